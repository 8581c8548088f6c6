//! `run`/`create` flags that declare services and their health check:
//! `--service NAME:PORT[/proto]`, `--tag`, Docker's `--health-*` family plus
//! `--health-http PATH` and `--health-tcp[=PORT]`. Pure translation into
//! `ContainerSpec::services` / `health`.

use anyhow::{bail, Context};
use clap::Args;
use skiff_types::{ContainerSpec, HealthCheck, HealthProbe, Proto, ServiceDecl};

#[derive(Debug, Clone, Default, Args)]
pub struct ServiceFlags {
    /// Publish a service in the registry while healthy (NAME:PORT[/tcp|udp])
    #[arg(long = "service", value_name = "NAME:PORT[/PROTO]")]
    pub service: Vec<String>,
    /// Tag the declared services
    #[arg(long = "tag")]
    pub tag: Vec<String>,
    /// Command to run to check health (run with /bin/sh -c)
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Check health with an HTTP GET of PATH on the first service's port
    #[arg(long = "health-http", value_name = "PATH")]
    pub health_http: Option<String>,
    /// Check health with a TCP connect (to PORT, default the first service's port)
    #[arg(long = "health-tcp", value_name = "PORT", num_args = 0..=1, default_missing_value = "0")]
    pub health_tcp: Option<u16>,
    /// Time between running the check (ms|s|m|h) (default 30s)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 30s)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 3)
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between checks during the start period (ms|s|m|h) (default 5s)
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Reach a service at 127.0.0.1:LOCALPORT inside the container (default: the service's port)
    #[arg(long = "uses", value_name = "SERVICE[:LOCALPORT]")]
    pub uses: Vec<skiff_types::UsesSpec>,
}

/// `NAME:PORT[/proto]`.
pub fn parse_service(s: &str) -> anyhow::Result<ServiceDecl> {
    let (name, rest) = s
        .split_once(':')
        .with_context(|| format!("invalid --service {s:?}: want NAME:PORT[/tcp|udp]"))?;
    skiff_registry::keys::validate_service(name)?;
    let (port, proto) = match rest.split_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, other)) => {
            bail!("invalid --service {s:?}: unknown protocol {other:?} (tcp or udp)")
        }
        None => (rest, Proto::Tcp),
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .with_context(|| format!("invalid --service {s:?}: port must be 1-65535"))?;
    Ok(ServiceDecl {
        name: name.to_owned(),
        port,
        proto,
        tags: Vec::new(),
    })
}

/// Go-style durations as Docker takes them: `1m30s`, `500ms`, `2h`, `10s`.
pub fn parse_duration_ms(s: &str) -> anyhow::Result<u64> {
    let bad = || {
        anyhow::anyhow!("invalid duration {s:?}: use a number with a unit, e.g. 500ms, 10s, 1m30s")
    };
    let mut total: f64 = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(0);
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

impl ServiceFlags {
    fn any_health(&self) -> bool {
        self.health_cmd.is_some()
            || self.health_http.is_some()
            || self.health_tcp.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_start_interval.is_some()
    }

    /// Fills `spec.services` and `spec.health`.
    pub fn apply(&self, spec: &mut ContainerSpec) -> anyhow::Result<()> {
        for u in &self.uses {
            skiff_registry::keys::validate_service(&u.service)
                .with_context(|| format!("invalid --uses {:?}", u.service))?;
        }
        spec.uses = self.uses.clone();
        for s in &self.service {
            let mut decl = parse_service(s)?;
            decl.tags = self.tag.clone();
            if spec
                .services
                .iter()
                .any(|d| d.name == decl.name && d.port == decl.port)
            {
                bail!("--service {s:?} is declared twice");
            }
            spec.services.push(decl);
        }
        if !self.tag.is_empty() && spec.services.is_empty() {
            bail!("--tag needs a --service to tag");
        }
        if self.no_healthcheck {
            if self.any_health() {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            spec.no_healthcheck = true;
            return Ok(());
        }
        spec.health = self.health(spec.services.first().map(|d| d.port))?;
        Ok(())
    }

    fn health(&self, first_port: Option<u16>) -> anyhow::Result<Option<HealthCheck>> {
        let port_for = |what: &str| {
            first_port.with_context(|| format!("{what} needs a --service to know the port"))
        };
        let mut probes = Vec::new();
        if let Some(cmd) = &self.health_cmd {
            if cmd.trim().is_empty() {
                bail!("--health-cmd must not be empty");
            }
            probes.push(HealthProbe::Cmd {
                argv: vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
            });
        }
        if let Some(path) = &self.health_http {
            probes.push(HealthProbe::Http {
                path: path.clone(),
                port: port_for("--health-http")?,
            });
        }
        if let Some(port) = self.health_tcp {
            let port = if port == 0 {
                port_for("--health-tcp")?
            } else {
                port
            };
            probes.push(HealthProbe::Tcp { port });
        }
        let probe = match probes.len() {
            0 if self.any_health() => {
                bail!("--health-interval/-timeout/-retries/-start-period/-start-interval need --health-cmd, --health-http or --health-tcp")
            }
            0 => return Ok(None),
            1 => probes.remove(0),
            _ => bail!("use only one of --health-cmd, --health-http and --health-tcp"),
        };
        let mut check = HealthCheck::with_defaults(probe);
        let ms = |v: &Option<String>, flag: &str| -> anyhow::Result<Option<u64>> {
            v.as_deref()
                .map(|s| parse_duration_ms(s).with_context(|| format!("invalid {flag}")))
                .transpose()
        };
        // Docker: 0 means the default.
        if let Some(v) = ms(&self.health_interval, "--health-interval")?.filter(|v| *v > 0) {
            check.interval_ms = v;
        }
        if let Some(v) = ms(&self.health_timeout, "--health-timeout")?.filter(|v| *v > 0) {
            check.timeout_ms = v;
        }
        if let Some(v) = ms(&self.health_start_period, "--health-start-period")? {
            check.start_period_ms = v;
        }
        if let Some(v) =
            ms(&self.health_start_interval, "--health-start-interval")?.filter(|v| *v > 0)
        {
            check.start_interval_ms = v;
        }
        if let Some(r) = self.health_retries.filter(|r| *r > 0) {
            check.retries = r;
        }
        Ok(Some(check))
    }
}

#[cfg(test)]
#[path = "service_flags_tests.rs"]
mod tests;
