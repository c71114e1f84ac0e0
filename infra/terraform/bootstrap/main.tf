# Run once per account, before the main stack, with local state:
#   cd infra/terraform/bootstrap
#   terraform init && terraform apply -var aws_region=ap-northeast-1
# then put the outputs into ../examples/complete/backend.tf.
#
# Cost: the state is a few KB. S3 storage and requests for it round to $0.00 a month (S3's
# free tier covers it for the first 12 months; afterwards it is fractions of a cent). The
# lock table uses provisioned capacity of 1 read and 1 write unit, inside DynamoDB's
# always-free 25 units, and encryption with the AWS owned key (free).

data "aws_caller_identity" "current" {}

locals {
  bucket_name = coalesce(var.state_bucket_name, "${var.name_prefix}-tfstate-${data.aws_caller_identity.current.account_id}-${var.aws_region}")
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket and adds storage and requests; the state bucket is private, TLS-only and versioned, and CloudTrail management events (free) record who changed its configuration.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second bucket and doubles the cost; versioning covers the realistic failure (a bad apply), and the state can be rebuilt with terraform import.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is free; SSE-KMS would add KMS requests and a customer managed key $1/month. The bucket is private (public access block, bucket-owner-enforced, TLS-only policy).
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of a state bucket; notifications would only add a target to run and pay for.
  bucket = local.bucket_name

  # The state is what lets Terraform manage (and destroy) everything else.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_dynamodb_table" "lock" {
  #checkov:skip=CKV_AWS_28:The table holds only transient lock items (and state digests); there is nothing to restore, and point-in-time recovery is billed per GB-month outside the free tier.
  #checkov:skip=CKV2_AWS_16:Fixed provisioned capacity of 1 read and 1 write unit stays inside DynamoDB's always-free 25 units; auto scaling could only scale out of the free tier, for a few lock requests per apply.
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS owned key (DynamoDB's free default); a customer managed KMS key costs $1/month for lock items that hold no secrets.
  count = var.create_lock_table ? 1 : 0

  name           = "${var.name_prefix}-tflock"
  billing_mode   = "PROVISIONED"
  read_capacity  = 1
  write_capacity = 1
  hash_key       = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  deletion_protection_enabled = true
}
