//! A project directory on disk for each test.
#![allow(dead_code)]

use skiff_spec::{load, LoadOptions, SpecErrors};
use skiff_types::Topology;
use std::path::PathBuf;

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("skiffspec")
            .tempdir()
            .unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Project { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn load(&self, files: &[&str], opts: &LoadOptions) -> Result<Topology, SpecErrors> {
        let paths: Vec<PathBuf> = files.iter().map(|f| self.path(f)).collect();
        load(&paths, opts)
    }

    pub fn ok(&self, files: &[&str]) -> Topology {
        let opts = LoadOptions {
            project: Some("p".into()),
            ..Default::default()
        };
        self.load(files, &opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The errors as `file-name:line:col: message` lines.
    pub fn errors(&self, files: &[&str], opts: &LoadOptions) -> Vec<String> {
        let e = self.load(files, opts).expect_err("load should fail");
        let prefix = format!("{}/", self.dir.path().display());
        e.0.iter()
            .map(|e| e.to_string().replace(&prefix, ""))
            .collect()
    }
}
