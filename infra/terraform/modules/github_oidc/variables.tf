variable "name_prefix" {
  description = "Prefix of the role name: NAME_PREFIX-github-enqueue."
  type        = string
  default     = "codingworker"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,48}$", var.name_prefix))
    error_message = "name_prefix must be 1-48 characters of letters, digits and +=,.@_-."
  }
}

variable "create_oidc_provider" {
  description = "Create the token.actions.githubusercontent.com OIDC provider. An account holds at most one provider per URL: set false when it exists already (created by hand or by another stack); it is then looked up, or taken from oidc_provider_arn."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing GitHub OIDC provider, used when create_oidc_provider is false. Null: look it up by its URL."
  type        = string
  default     = null

  validation {
    condition     = var.oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider."
  }
}

variable "oidc_thumbprints" {
  description = "Thumbprints recorded on the created provider. AWS validates GitHub's provider against its own trusted CAs and ignores them; they are set because older AWS providers require the argument. These are the two GitHub has published."
  type        = list(string)
  default     = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]

  validation {
    condition     = length(var.oidc_thumbprints) >= 1 && length(var.oidc_thumbprints) <= 5 && alltrue([for t in var.oidc_thumbprints : can(regex("^[0-9a-fA-F]{40}$", t))])
    error_message = "oidc_thumbprints must be 1-5 SHA-1 thumbprints of 40 hex digits."
  }
}

variable "github_repositories" {
  description = <<-EOT
    The repositories whose workflows may assume the role, as OWNER/NAME exactly as GitHub
    spells them (the sub claim and IAM's StringEquals are case-sensitive). The role trusts
    one OIDC subject per entry:
      - default: repo:OWNER/NAME:ref:refs/heads/DEFAULT_BRANCH. An `issues` event runs the
        workflow of the default branch with GITHUB_REF = the default branch, so this is the
        subject an `issues`-triggered job presents (when it names no environment).
      - with `environment`: repo:OWNER/NAME:environment:ENVIRONMENT, the subject of a job
        that declares `environment: ENVIRONMENT` (GitHub then leaves the ref out of sub).
  EOT
  type = list(object({
    repository     = string
    default_branch = optional(string, "main")
    environment    = optional(string)
  }))

  validation {
    condition     = length(var.github_repositories) > 0
    error_message = "github_repositories must name at least one repository."
  }

  validation {
    condition     = alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", r.repository))])
    error_message = "Each repository must be OWNER/NAME with letters, digits, '.', '_' and '-' only (no wildcards)."
  }

  validation {
    condition     = alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", r.default_branch)) && !startswith(r.default_branch, "refs/")])
    error_message = "Each default_branch must be a plain branch name such as main (no refs/heads/ prefix, no wildcards)."
  }

  validation {
    condition     = alltrue([for r in var.github_repositories : r.environment == null || can(regex("^[A-Za-z0-9._-]+$", r.environment))])
    error_message = "Each environment must be letters, digits, '.', '_' and '-' only (no wildcards)."
  }
}

variable "extra_subjects" {
  description = "More exact OIDC subjects to trust, for repositories that customised their sub claim template (e.g. with repository_id or job_workflow_ref). Matched with StringEquals: no wildcards."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.extra_subjects : startswith(s, "repo:") && !can(regex("[*?]", s))])
    error_message = "Each extra subject must start with repo: and contain no '*' or '?'."
  }
}

variable "queue_arn" {
  description = "ARN of the task queue the workflow sends to."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.queue_arn))
    error_message = "queue_arn must be an SQS queue ARN."
  }
}

variable "max_session_duration" {
  description = "Longest session the workflow can ask for, in seconds. Sending one message takes seconds; 3600 is IAM's minimum."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
