terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }

  # This root keeps its own (tiny) state locally in terraform.tfstate: it only describes the
  # bucket and the table. Keep that file, or move it into the bucket it created: add
  #   backend "s3" { bucket = "<state_bucket>", key = "bootstrap/terraform.tfstate",
  #                  region = "<region>", encrypt = true, use_lockfile = true }
  # here and run `terraform init -migrate-state`.
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = { Project = "codingworker", ManagedBy = "terraform" }
  }
}
