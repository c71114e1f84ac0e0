use std::process::ExitCode;

use codingworker::process::supervise;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // This binary is also the supervisor of the processes it starts (see `supervise`).
    if args.get(1).is_some_and(|a| a == supervise::SUBCOMMAND) {
        supervise::main(&args[2..]);
    }
    if let Some(me) = supervise::this_binary() {
        supervise::enable(me);
    }
    codingworker::cli::main()
}
