//! `skiff load [-i FILE]` and `skiff save [-o FILE] [--format F] IMAGE...`: image archives
//! in and out, streamed through the daemon (stdin/stdout when no file is named).

use super::Ctx;
use anyhow::{bail, Context};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from a tar archive file (docker-archive or oci-archive, optionally gzip/zstd),
    /// instead of STDIN
    #[arg(short = 'i', long = "input")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn load(ctx: &Ctx, args: LoadArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let loaded = match &args.input {
        Some(p) => {
            let f = std::fs::File::open(p)
                .with_context(|| format!("open {}: {}", p.display(), "cannot read the archive"))?;
            client.image_load(std::io::BufReader::new(f))?
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty (use -i FILE)");
            }
            client.image_load(stdin.lock())?
        }
    };
    if !args.quiet {
        for img in loaded {
            if img.tags.is_empty() {
                println!("Loaded image ID: {}", img.id);
            }
            for t in img.tags {
                println!("Loaded image: {t}");
            }
        }
    }
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Archive format: docker-archive or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn save(ctx: &Ctx, args: SaveArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let Some(out) = &args.output else {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        client.image_save(&args.images, &args.format, stdout.lock())?;
        return Ok(0);
    };
    // Written beside the target and renamed: a failed save leaves no half archive.
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".skiff-save-")
        .tempfile_in(&dir)
        .with_context(|| format!("create a file in {}", dir.display()))?;
    client.image_save(
        &args.images,
        &args.format,
        std::io::BufWriter::new(tmp.as_file()),
    )?;
    let f = tmp
        .persist(out)
        .with_context(|| format!("write {}", out.display()))?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("chmod {}", out.display()))?;
    Ok(0)
}
