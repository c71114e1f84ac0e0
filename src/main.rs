use std::process::ExitCode;

fn main() -> ExitCode {
    codingworker::cli::main()
}
