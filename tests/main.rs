//! Integration tests, in one binary so that the heavy crates link once.

mod support;

mod cli_init;
mod cli_validate;
mod corpus;
mod doctor;
mod e2e;
mod eval;
mod hardening;
mod history;
mod layers;
mod real_repos;
mod robustness;
mod run_aider;
mod run_engine;
mod run_github;
mod run_hostile;
mod run_plan;
mod schemas;
mod status;
mod worker;
mod workflows;
