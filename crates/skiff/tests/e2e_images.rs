//! End-to-end, as root: images through the real daemon and CLI. `load`/`save`/`images`/
//! `tag`/`rmi` (in-use guard), `run IMAGE` with the image config applied, a 100-layer image
//! with a whiteout, and `build` (cache hits, multi-stage, RUN deletions, line errors).

mod common;
use common::{need_root, Daemon};
use skiff_image::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A tar of `dir` (symlinks kept).
fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// A tar of (path, content) files.
fn tar_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-archive of `layers` with `config` (its rootfs filled in), tagged `tag`.
fn archive(path: &Path, tag: &str, layers: &[Vec<u8>], mut config: serde_json::Value) {
    let ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": ids});
    config["architecture"] = "amd64".into();
    config["os"] = "linux".into();
    let cfg = serde_json::to_vec(&config).unwrap();
    let cfg_name = format!("{}.json", Digest::of(&cfg).hex());
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&cfg_name, &cfg);
    for (n, l) in names.iter().zip(layers) {
        add(n, l);
    }
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap();
}

fn busybox_config() -> serde_json::Value {
    serde_json::json!({"config": {
        "Env": ["PATH=/bin:/usr/bin", "FOO=image", "KEEP=1"],
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo foo=$FOO keep=$KEEP; pwd; id -u"],
        "WorkingDir": "/tmp",
        "User": "1000",
        "ExposedPorts": {"80/tcp": {}},
        "Healthcheck": {"Test": ["CMD", "/bin/true"], "Interval": 2000000000u64}
    }})
}

#[test]
fn load_run_save_tag_rmi() {
    if !need_root("load_run_save_tag_rmi") {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("bb.tar");
    archive(
        &arch,
        "bb:1",
        &[tar_dir(common::rootfs())],
        busybox_config(),
    );
    let out = d.ok(&["load", "-i", arch.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: bb:1");
    assert!(d
        .ok(&["images"])
        .lines()
        .any(|l| l.starts_with("bb ") && l.contains(" 1 ")));
    // The image config applies: entrypoint + cmd, env, workdir, user.
    let out = d.ok(&["run", "--rm", "bb:1"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["foo=image keep=1", "/tmp", "1000"]
    );
    // The user wins: env by key, workdir, user, a command replaces Cmd only.
    let out = d.ok(&[
        "run",
        "--rm",
        "-e",
        "FOO=user",
        "-w",
        "/",
        "-u",
        "0",
        "bb:1",
        "echo $FOO $KEEP; pwd; id -u",
    ]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["user 1", "/", "0"]);
    // --entrypoint drops the image's Cmd.
    assert_eq!(
        d.ok(&["run", "--rm", "--entrypoint", "/bin/echo", "bb:1", "x"])
            .trim(),
        "x"
    );
    // ExposedPorts and Healthcheck are recorded in the container spec.
    let id = d.ok(&["create", "--name", "keep", "bb:1"]);
    let info = d.inspect(id.trim());
    assert_eq!(
        info["config"]["exposed_ports"],
        serde_json::json!(["80/tcp"])
    );
    assert_eq!(info["config"]["health"]["interval_ms"], 2000);
    assert_eq!(info["config"]["image"], "bb:1");
    // tag, save, and rmi refused while a container uses the image.
    d.ok(&["tag", "bb:1", "bb:2"]);
    let saved = dir.path().join("saved.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), "bb:2"]);
    assert!(d.ok(&["rmi", "bb:1"]).contains("Untagged: bb:1"));
    let out = d.skiff(&["rmi", "bb:2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is using image"));
    assert!(d.ok(&["images"]).contains("bb "), "nothing removed");
    d.ok(&["rm", "keep"]);
    let out = d.ok(&["rmi", "bb:2"]);
    assert!(
        out.contains("Untagged: bb:2") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    // load from stdin brings it back, runnable.
    let f = std::fs::File::open(&saved).unwrap();
    let out = Command::new(common::skiff_bin())
        .args(["--root", d.root_str(), "--host", &d.host(), "load"])
        .stdin(Stdio::from(f))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded image: bb:2"));
    assert_eq!(d.ok(&["run", "--rm", "bb:2", "echo back"]).trim(), "back");
    // A missing image is a clear error.
    let out = d.skiff(&["run", "--rm", "nope:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("image not found: nope:1"), "{err}");
}

#[test]
fn hundred_layers_and_a_whiteout() {
    if !need_root("hundred_layers_and_a_whiteout") {
        return;
    }
    let d = Daemon::start();
    let mut layers = vec![tar_dir(common::rootfs())];
    layers.push(tar_files(&[("gone", b"x"), ("kept", b"y")]));
    for i in 0..97 {
        let name = format!("l/{i}");
        layers.push(tar_files(&[(name.as_str(), b"z")]));
    }
    layers.push(tar_files(&[(".wh.gone", b"")]));
    assert_eq!(layers.len(), 100);
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("deep.tar");
    archive(
        &arch,
        "deep:1",
        &layers,
        serde_json::json!({"config": {"Cmd": ["/bin/sh"]}}),
    );
    d.ok(&["load", "-i", arch.to_str().unwrap()]);
    let out = d.ok(&[
        "run",
        "--rm",
        "deep:1",
        "sh",
        "-c",
        "ls /l | wc -l; cat /kept; echo; test -e /gone || echo hidden",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["97", "y", "hidden"]
    );
}

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    for (p, text) in files {
        let path: PathBuf = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const BASE: &str = "FROM scratch AS base\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";

#[test]
fn build_caches_multistage_and_whiteouts() {
    if !need_root("build_caches_multistage_and_whiteouts") {
        return;
    }
    let d = Daemon::start();
    let file = format!(
        "{BASE}RUN mkdir /data && echo old > /data/old && echo keep > /data/keep\n\
         RUN rm /data/old\n\
         FROM scratch AS tools\nCOPY --from=base /bin/busybox /bin/busybox\n\
         FROM base\nARG WHO=world\nENV WHO=$WHO\nCOPY --chown=1000:1000 app/ /app/\n\
         COPY --from=tools /bin/busybox /tools/bb\nADD files.tar /added/\nWORKDIR /app\n\
         CMD [\"sh\", \"-c\", \"echo hello $WHO; cat msg; ls /data; stat -c %u msg; test -x /tools/bb && echo tools; cat /added/a/b.txt\"]\n"
    );
    let ctx = context(&[
        ("Containerfile", &file),
        ("app/msg", "from the context\n"),
        ("app/junk.log", "x"),
    ]);
    std::fs::write(ctx.path().join(".dockerignore"), "**/*.log\n").unwrap();
    // ADD of a local tar extracts it (through the safe unpacker).
    std::fs::write(
        ctx.path().join("files.tar"),
        tar_files(&[("a/b.txt", b"extracted\n")]),
    )
    .unwrap();
    let c = ctx.path().to_str().unwrap();
    let first = d.ok(&["build", "-t", "app", "--build-arg", "WHO=skiff", c]);
    assert!(first.contains("Successfully tagged app:latest"), "{first}");
    let out = d.ok(&["run", "--rm", "app"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "hello skiff",
            "from the context",
            "keep",
            "1000",
            "tools",
            "extracted"
        ],
        "RUN rm hid /data/old; .dockerignore kept junk.log out"
    );
    assert!(!d.ok(&["run", "--rm", "app", "ls"]).contains("junk.log"));
    // Unchanged rebuild: every layer step CACHED, same image id.
    let second = d.ok(&["build", "-t", "app", "--build-arg", "WHO=skiff", c]);
    let steps = second.lines().filter(|l| l.starts_with("--> ")).count();
    let cached = second.lines().filter(|l| *l == "--> CACHED").count();
    assert_eq!(cached + 1, steps, "all layer steps cached:\n{second}");
    let id = |s: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix("Successfully built "))
            .map(String::from)
    };
    assert_eq!(id(&first), id(&second));
    // A changed source misses the cache from that step on.
    std::fs::write(ctx.path().join("app/msg"), "changed\n").unwrap();
    let third = d.ok(&["build", "-t", "app", "--build-arg", "WHO=skiff", c]);
    assert_ne!(id(&third), id(&first));
    assert_eq!(
        d.ok(&["run", "--rm", "app", "cat", "msg"]).trim(),
        "changed"
    );
}

#[test]
fn build_errors_name_the_line_and_change_nothing() {
    if !need_root("build_errors_name_the_line_and_change_nothing") {
        return;
    }
    let d = Daemon::start();
    let before = d.ok(&["images"]);
    for (file, want) in [
        (
            "FROM scratch\nCOPY busybox /bb\nFROB x\n",
            "Containerfile:3: unknown instruction: FROB",
        ),
        (
            "FROM scratch\n\nCOPY ../etc/passwd /x\n",
            "Containerfile:3: COPY failed",
        ),
        (
            &format!("{BASE}RUN exit 3\n"),
            "Containerfile:4: RUN exit 3: exit code 3",
        ),
        ("FROM nope\n", "Containerfile:1: image not found: nope"),
    ] {
        let ctx = context(&[("Containerfile", file)]);
        let out = d.skiff(&["build", "-t", "bad", ctx.path().to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(want), "want {want:?} in:\n{text}");
    }
    // A symlink in the context never leads a COPY out of it.
    let ctx = context(&[("Containerfile", "FROM scratch\nCOPY evil/passwd /x\n")]);
    std::os::unix::fs::symlink("/etc", ctx.path().join("evil")).unwrap();
    let out = d.skiff(&["build", "-t", "bad", ctx.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Containerfile:2: COPY failed"), "{text}");
    assert_eq!(d.ok(&["images"]), before, "no image appeared");
    assert_eq!(
        d.ok(&["ps", "-aq"]).trim(),
        "",
        "no RUN container left behind"
    );
}

/// An image's VOLUME becomes an anonymous volume filled from the image as overlay shows it
/// (two layers: the upper one replaces a file and adds one), and `-v NAME:/path` fills a new
/// named volume the same way; `--rm` removes only the anonymous one.
#[test]
fn image_volumes_are_filled_from_the_layers() {
    if !need_root("image_volumes_are_filled_from_the_layers") {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("vol.tar");
    let mut cfg = busybox_config();
    cfg["config"]["User"] = "0".into();
    cfg["config"]["Volumes"] = serde_json::json!({"/srv/data": {}});
    let lower = tar_files(&[("srv/data/a", b"lower"), ("srv/data/b", b"lower")]);
    let upper = tar_files(&[("srv/data/b", b"upper"), ("srv/data/c", b"upper")]);
    archive(
        &arch,
        "vol:1",
        &[tar_dir(common::rootfs()), lower, upper],
        cfg,
    );
    d.ok(&["load", "-i", arch.to_str().unwrap()]);
    let cat = "cat /srv/data/a /srv/data/b /srv/data/c";
    let out = d.ok(&["run", "--rm", "vol:1", cat]);
    assert_eq!(out.trim(), "lowerupperupper");
    let named = d.ok(&["run", "--rm", "-v", "keep:/srv/data", "vol:1", cat]);
    assert_eq!(named.trim(), "lowerupperupper");
    let vols = d.ok(&["volume", "ls", "-q"]);
    assert_eq!(
        vols.lines().collect::<Vec<_>>(),
        ["keep"],
        "--rm removed the anonymous one"
    );
}
