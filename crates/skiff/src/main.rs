//! skiff: containers in one binary. `main` only hands argv to the CLI
//! (`cli`), whose hidden `daemon`/`keeper` verbs enter `daemon`.

mod cli;
mod daemon;

fn main() {
    std::process::exit(cli::main());
}
