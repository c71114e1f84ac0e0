//! The SQS worker: long-polls the queue and runs one playbook per task.
//!
//! Only its configuration file's shape lives here so far (it is part of the committed
//! schemas); the loop, routing and delivery rules come with the worker itself.

pub mod config;
