//! `provenant`: the registry server and its command line in one binary.

fn main() -> std::process::ExitCode {
    provenant_cli::main()
}
