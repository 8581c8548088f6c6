//! `POST /v1/build`: the context tar is unpacked (safe unpacker) into the store's tmp/, the
//! Containerfile read from it, and `skiff_image::build` run on a blocking thread with RUN
//! steps in real skiff containers ([`RuntimeRunner`]). Output streams back as text lines;
//! the last line is `Successfully built <id>` or `ERROR: <message>` (the CLI's exit status).

use super::images::Images;
use skiff_api::{BodyReader, BuildRequest, ByteStream, ChannelWriter};
use skiff_image::build::{build, BuildOptions, RunStep, StepRunner};
use skiff_image::ImageError;
use skiff_runtime::record::ContainerDir;
use skiff_runtime::Runtime;
use skiff_sys::fsroot::RootDir;
use skiff_types::{ApiError, ContainerSpec, Control, FrameKind};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::runtime::Handle;

/// RUN steps as skiff containers: no network, removed after their upper dir is read.
pub struct RuntimeRunner {
    pub rt: Runtime,
    pub root: PathBuf,
    pub handle: Handle,
}

impl StepRunner for RuntimeRunner {
    fn run(
        &self,
        step: &RunStep,
        out: &mut dyn Write,
        collect: &mut dyn FnMut(&Path) -> skiff_image::Result<()>,
    ) -> Result<(), String> {
        let spec = ContainerSpec {
            rootfs_layers: step
                .lowers
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            cmd: step.argv.clone(),
            env: step.env.clone(),
            working_dir: step.working_dir.clone(),
            user: step.user.clone(),
            ..Default::default()
        };
        let h = &self.handle;
        let id = h.block_on(self.rt.create(spec)).map_err(|e| e.message)?;
        let result = self.run_created(id.as_str(), out, collect);
        let _ = h.block_on(self.rt.remove(id.as_str(), true));
        result
    }
}

impl RuntimeRunner {
    fn run_created(
        &self,
        id: &str,
        out: &mut dyn Write,
        collect: &mut dyn FnMut(&Path) -> skiff_image::Result<()>,
    ) -> Result<(), String> {
        let h = &self.handle;
        let mut session = h.block_on(self.rt.attach(id)).map_err(|e| e.message)?;
        h.block_on(self.rt.start(id)).map_err(|e| e.message)?;
        let mut code = None;
        // Frames are written here, outside the runtime (the writer blocks).
        while let Some(f) = h.block_on(session.output.recv()) {
            match f.kind {
                FrameKind::Stdout | FrameKind::Stderr => {
                    let _ = out.write_all(&f.data);
                }
                FrameKind::Control => {
                    if let Ok(c) = serde_json::from_slice::<Control>(&f.data) {
                        match c {
                            Control::Exit { exit_code, .. } => code = Some(exit_code),
                            Control::Error(e) => return Err(e.message),
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
        let code = match code {
            Some(c) => c,
            None => {
                h.block_on(self.rt.wait(id))
                    .map_err(|e| e.message)?
                    .exit_code
            }
        };
        if code != 0 {
            return Err(format!("exit code {code}"));
        }
        collect(&ContainerDir::new(&self.root, id).upper()).map_err(|e| e.to_string())
    }
}

/// Starts a build; its output is the returned stream.
pub fn start(
    images: &Images,
    runner: RuntimeRunner,
    req: BuildRequest,
    context: BodyReader,
) -> Result<ByteStream, ApiError> {
    let (mut w, rx) = ChannelWriter::new();
    let store = images.clone();
    tokio::task::spawn_blocking(move || {
        let res = run(&store, &runner, req, context, &mut w);
        let _ = match res {
            Ok(line) => writeln!(w, "{line}"),
            Err(e) => writeln!(w, "ERROR: {e}"),
        };
    });
    Ok(rx)
}

fn run(
    store: &skiff_image::ImageStore,
    runner: &RuntimeRunner,
    req: BuildRequest,
    context: BodyReader,
    out: &mut dyn Write,
) -> Result<String, ImageError> {
    let tmp = store.dir().join("tmp");
    let ctx = tempfile::Builder::new()
        .prefix("context-")
        .tempdir_in(&tmp)
        .map_err(|e| ImageError::Invalid {
            what: "build context".into(),
            reason: e.to_string(),
        })?;
    let root = RootDir::open(ctx.path())?;
    skiff_image::unpack_layer(context, &root, store.limits())?;
    let names = match &req.file {
        Some(f) => vec![f.clone()],
        None => vec!["Containerfile".into(), "Dockerfile".into()],
    };
    let mut text = None;
    for n in &names {
        if let Ok(f) = root.open_file(Path::new(n)) {
            let mut s = String::new();
            f.take(1 << 20)
                .read_to_string(&mut s)
                .map_err(|e| ImageError::Invalid {
                    what: n.clone(),
                    reason: e.to_string(),
                })?;
            text = Some((n.clone(), s));
            break;
        }
    }
    let Some((file, text)) = text else {
        return Err(ImageError::Invalid {
            what: "build context".into(),
            reason: format!("no {} in the context", names.join(" or ")),
        });
    };
    let opts = BuildOptions {
        file,
        text,
        build_args: req.build_args,
        target: req.target,
        tags: req.tags,
        no_cache: req.no_cache,
    };
    let built = build(store, ctx.path(), &opts, runner, out)?;
    let mut line = format!("Successfully built {}", built.id.short());
    for t in &built.tags {
        line.push_str(&format!("\nSuccessfully tagged {t}"));
    }
    Ok(line)
}
