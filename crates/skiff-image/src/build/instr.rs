//! One instruction at a time: FROM, the config-only instructions, RUN, and the shared
//! cached-layer step (COPY/ADD are in [`super::copy`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::parse::{cmd_form, key_values, substitute, words, CmdForm, Instruction};
use super::{chain, now_rfc3339, tree, Builder, CacheEntry, Stage};
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::oci::{ContainerConfig, Healthcheck};
use crate::runconfig::merge_env;

/// What an instruction did.
pub(crate) enum Outcome {
    NewStage(Box<Stage>),
    Config,
    Cached,
    Ran,
}

impl Builder<'_> {
    pub(crate) fn global_arg(&mut self, i: &Instruction) -> Result<()> {
        let (k, v) = self.arg_value(i, &self.global_args.clone())?;
        self.global_args.insert(k, v);
        Ok(())
    }

    fn arg_value(
        &self,
        i: &Instruction,
        vars: &BTreeMap<String, String>,
    ) -> Result<(String, String)> {
        let a = substitute(i.args.trim(), vars).map_err(|e| self.err(i, e))?;
        let (k, default) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(words(v).join(" "))),
            None => (a.clone(), None),
        };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.err(i, format!("invalid ARG name {k:?}")));
        }
        let v = self
            .opts
            .build_args
            .get(&k)
            .cloned()
            .or(default)
            .unwrap_or_default();
        Ok((k, v))
    }

    pub(crate) fn instruction(
        &mut self,
        stage: Option<&mut Stage>,
        i: &Instruction,
    ) -> Result<Outcome> {
        if i.keyword == "FROM" {
            return Ok(Outcome::NewStage(Box::new(self.from(i)?)));
        }
        let st = stage.expect("instructions follow a FROM");
        let vars = st.vars();
        let sub = |s: &str| substitute(s, &vars).map_err(|e| self.err(i, e));
        let text;
        match i.keyword.as_str() {
            "RUN" => return self.run(st, i),
            "COPY" | "ADD" => return self.copy(st, i),
            "ARG" => {
                let (k, v) = self.arg_value(i, &vars)?;
                text = format!("ARG {k}={v}");
                st.args.insert(k, v);
            }
            "ENV" => {
                let kvs = self.key_values(i, &vars)?;
                let add: Vec<String> = kvs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                st.cfg.env = Some(merge_env(st.cfg.env.as_deref().unwrap_or_default(), &add));
                text = format!("ENV {}", add.join(" "));
            }
            "LABEL" => {
                let kvs = self.key_values(i, &vars)?;
                let labels = st.cfg.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in &kvs {
                    labels.insert(k.clone(), v.clone());
                }
                text = format!("LABEL {kvs:?}");
            }
            "WORKDIR" => {
                let w = sub(i.args.trim())?;
                let base = st.cfg.working_dir.clone().unwrap_or_else(|| "/".into());
                let p = Path::new(&base).join(&w);
                st.cfg.working_dir = Some(p.to_string_lossy().into_owned());
                text = format!("WORKDIR {}", p.display());
            }
            "USER" => {
                let u = sub(i.args.trim())?;
                if u.is_empty() {
                    return Err(self.err(i, "USER needs a user"));
                }
                text = format!("USER {u}");
                st.cfg.user = Some(u);
            }
            "EXPOSE" => {
                let ports = st.cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in words(&sub(&i.args)?) {
                    let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                    if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(self.err(i, format!("invalid port {p:?}")));
                    }
                    ports.insert(format!("{num}/{proto}"), serde_json::json!({}));
                }
                text = format!("EXPOSE {:?}", ports.keys().collect::<Vec<_>>());
            }
            "CMD" => {
                st.cfg.cmd = Some(self.argv(st, &i.args));
                st.cmd_inherited = false;
                text = format!("CMD {:?}", st.cfg.cmd);
            }
            "ENTRYPOINT" => {
                st.cfg.entrypoint = Some(self.argv(st, &i.args));
                if st.cmd_inherited {
                    st.cfg.cmd = None;
                }
                text = format!("ENTRYPOINT {:?}", st.cfg.entrypoint);
            }
            "SHELL" => match cmd_form(&i.args) {
                CmdForm::Exec(v) if !v.is_empty() => {
                    text = format!("SHELL {v:?}");
                    st.shell = v;
                }
                _ => {
                    return Err(self.err(i, "SHELL needs the JSON form, e.g. [\"/bin/sh\", \"-c\"]"))
                }
            },
            "VOLUME" => {
                let vols = match cmd_form(&sub(&i.args)?) {
                    CmdForm::Exec(v) => v,
                    CmdForm::Shell(s) => words(&s),
                };
                let map = st.cfg.volumes.get_or_insert_with(BTreeMap::new);
                for v in &vols {
                    map.insert(v.clone(), serde_json::json!({}));
                }
                text = format!("VOLUME {vols:?}");
            }
            "STOPSIGNAL" => {
                let s = sub(i.args.trim())?;
                text = format!("STOPSIGNAL {s}");
                st.cfg.stop_signal = Some(s);
            }
            "MAINTAINER" => {
                text = format!("MAINTAINER {}", i.args.trim());
                st.author = Some(i.args.trim().to_string());
            }
            "HEALTHCHECK" => {
                let h = self.healthcheck(st, i)?;
                text = format!("HEALTHCHECK {h:?}");
                st.cfg.healthcheck = Some(h);
            }
            other => return Err(self.err(i, format!("unknown instruction: {other}"))),
        }
        st.key = chain(&st.key, &text);
        Ok(Outcome::Config)
    }

    /// ENV/LABEL pairs: split first, then each word substituted (a value with spaces
    /// stays one value, as in Docker).
    fn key_values(
        &self,
        i: &Instruction,
        vars: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>> {
        let kvs = key_values(&i.args).map_err(|e| self.err(i, e))?;
        kvs.into_iter()
            .map(|(k, v)| {
                let sub = |s: &str| substitute(s, vars).map_err(|e| self.err(i, e));
                Ok((sub(&k)?, sub(&v)?))
            })
            .collect()
    }

    /// CMD/ENTRYPOINT argv: exec form as is, shell form under the stage's SHELL.
    fn argv(&self, st: &Stage, args: &str) -> Vec<String> {
        match cmd_form(args) {
            CmdForm::Exec(v) => v,
            CmdForm::Shell(s) => {
                let mut v = st.shell.clone();
                v.push(s);
                v
            }
        }
    }

    fn from(&mut self, i: &Instruction) -> Result<Stage> {
        let a = substitute(&i.args, &self.global_args).map_err(|e| self.err(i, e))?;
        let w = words(&a);
        let (base, name) = match w.as_slice() {
            [b] => (b.clone(), None),
            [b, kw, n] if kw.eq_ignore_ascii_case("as") => {
                (b.clone(), Some(n.to_ascii_lowercase()))
            }
            _ => return Err(self.err(i, "FROM takes IMAGE [AS NAME]")),
        };
        let mut st = Stage {
            name,
            layers: Vec::new(),
            cfg: ContainerConfig::default(),
            key: Digest::of(b"FROM scratch"),
            args: BTreeMap::new(),
            created: None,
            author: None,
            shell: vec!["/bin/sh".into(), "-c".into()],
            cmd_inherited: false,
        };
        if base == "scratch" {
            return Ok(st);
        }
        if let Some(prev) = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(base.as_str()))
        {
            let mut s = prev.clone();
            s.name = st.name;
            s.args.clear();
            s.cmd_inherited = s.cfg.cmd.is_some();
            return Ok(s);
        }
        let rec = self.store.record(&base).map_err(|e| match e {
            ImageError::NotFound(_) => self.err(
                i,
                format!("image not found: {base} (no pull yet: load it first)"),
            ),
            e => e,
        })?;
        let info = self.store.inspect(rec.id.hex())?;
        st.key = Digest::of(format!("FROM {}", rec.id).as_bytes());
        st.layers = rec.layers;
        st.cmd_inherited = info.config.cmd.is_some();
        st.cfg = info.config;
        st.created = info.created;
        Ok(st)
    }

    fn healthcheck(&self, st: &Stage, i: &Instruction) -> Result<Healthcheck> {
        let rest = i.args.trim();
        if rest.eq_ignore_ascii_case("NONE") {
            return Ok(Healthcheck {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            });
        }
        let mut h = Healthcheck::default();
        for (k, v) in &i.flags {
            let dur =
                || parse_duration(v).ok_or_else(|| self.err(i, format!("invalid --{k} {v:?}")));
            match k.as_str() {
                "interval" => h.interval = Some(dur()?),
                "timeout" => h.timeout = Some(dur()?),
                "start-period" => h.start_period = Some(dur()?),
                "start-interval" => h.start_interval = Some(dur()?),
                "retries" => {
                    h.retries = Some(
                        v.parse()
                            .map_err(|_| self.err(i, format!("invalid --retries {v:?}")))?,
                    )
                }
                _ => return Err(self.err(i, format!("unknown HEALTHCHECK flag --{k}"))),
            }
        }
        let Some(cmd) = rest.strip_prefix("CMD").map(str::trim) else {
            return Err(self.err(i, "HEALTHCHECK needs NONE or [OPTIONS] CMD command"));
        };
        h.test = Some(match cmd_form(cmd) {
            CmdForm::Exec(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            CmdForm::Shell(s) => vec!["CMD-SHELL".into(), s],
        });
        let _ = st;
        Ok(h)
    }

    fn run(&mut self, st: &mut Stage, i: &Instruction) -> Result<Outcome> {
        if !i.flags.is_empty() {
            return Err(self.err(i, format!("RUN --{} is not supported", i.flags[0].0)));
        }
        let argv = self.argv(st, &i.args);
        // Build args are in RUN's environment (ENV wins), and in its cache key.
        let args: Vec<String> = st.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = merge_env(&args, st.cfg.env.as_deref().unwrap_or_default());
        let key = chain(&st.key, &format!("RUN {argv:?} {args:?}"));
        self.layer_step(st, i, key, &mut |b, st| {
            if st.layers.is_empty() {
                return Err(b.err(
                    i,
                    "RUN needs a filesystem: FROM scratch has none (COPY a shell in first)",
                ));
            }
            let step = super::RunStep {
                lowers: st
                    .layers
                    .iter()
                    .map(|l| b.store.layer_path(&l.diff_id))
                    .collect(),
                argv: argv.clone(),
                env: env.clone(),
                working_dir: st.cfg.working_dir.clone(),
                user: st.cfg.user.clone(),
            };
            let tmp = b.temp_tar()?;
            let runner = b.runner;
            let ran = runner.run(&step, &mut *b.out, &mut |upper| upper_tar(upper, &tmp));
            if let Err(e) = ran {
                let _ = std::fs::remove_file(&tmp);
                return Err(b.err(i, format!("{}: {e}", i.original)));
            }
            Ok(tmp)
        })
    }

    /// A fresh path for a layer tar under the store's tmp/.
    pub(crate) fn temp_tar(&self) -> Result<PathBuf> {
        let dir = self.store.dir().join("tmp");
        let f = tempfile::Builder::new()
            .prefix("layer-")
            .suffix(".tar")
            .tempfile_in(&dir)
            .map_err(|e| ImageError::io("create a layer file in", &dir, e))?;
        let (_, path) = f
            .keep()
            .map_err(|e| ImageError::io("keep", &dir, e.error))?;
        Ok(path)
    }

    /// A layer step: answered from the cache, or `make` writes a tar that becomes the layer.
    pub(crate) fn layer_step(
        &mut self,
        st: &mut Stage,
        i: &Instruction,
        key: Digest,
        make: &mut dyn FnMut(&mut Self, &mut Stage) -> Result<PathBuf>,
    ) -> Result<Outcome> {
        let _ = i;
        if !self.opts.no_cache {
            if let Some(hit) = self.store.cache_get(&key)? {
                self.say(format_args!("--> CACHED"))?;
                st.layers.extend(hit.layer);
                st.created = Some(hit.created);
                st.key = key;
                return Ok(Outcome::Cached);
            }
        }
        let tar = make(self, st)?;
        let layer = self.store.put_layer_tar(&tar);
        let _ = std::fs::remove_file(&tar);
        let layer = layer?;
        let created = now_rfc3339();
        self.store.cache_put(
            &key,
            CacheEntry {
                layer: Some(layer.clone()),
                created: created.clone(),
            },
        )?;
        self.say(format_args!("--> {}", layer.diff_id.short()))?;
        st.layers.push(layer);
        st.created = Some(created);
        st.key = key;
        Ok(Outcome::Ran)
    }
}

/// Writes a RUN container's upper dir as a layer tar (whiteouts converted).
fn upper_tar(upper: &Path, tmp: &Path) -> Result<()> {
    let f = std::fs::File::create(tmp).map_err(|e| ImageError::io("create", tmp, e))?;
    let mut t = tree::LayerTar::new(std::io::BufWriter::new(f));
    let root = skiff_sys::fsroot::RootDir::open(upper)?;
    let opts = tree::TreeOpts {
        whiteouts: true,
        ..Default::default()
    };
    t.add_tree(&root, Path::new(""), Path::new(""), opts)?;
    let mut w = t.finish()?;
    std::io::Write::flush(&mut w).map_err(|e| ImageError::io("write", tmp, e))
}

/// `30s`, `1m30s`, `500ms`, `1h` as nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next()?);
        }
        let n: f64 = num.parse().ok()?;
        let mult = match unit.as_str() {
            "h" => 3_600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            _ => return None,
        };
        total += (n * mult) as u64;
        num.clear();
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}
