terraform {
  # 1.5: optional() defaults, check blocks, `terraform fmt` as used here. The commented S3
  # backend's `use_lockfile` needs 1.10.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ Project = "codingworker", ManagedBy = "terraform" }, var.tags)
  }
}
