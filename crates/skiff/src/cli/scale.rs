//! `skiff scale [-p JOB] SERVICE=N ...`: changes replica counts; the
//! controller adds or retires instances (the others keep running).

use super::Ctx;
use skiff_types::ScaleRequest;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (default: the one job that has these services)
    #[arg(short = 'p', long = "project-name")]
    pub job: Option<String>,
    /// SERVICE=REPLICAS
    #[arg(value_name = "SERVICE=N", required = true)]
    pub targets: Vec<String>,
}

pub fn parse_targets(targets: &[String]) -> anyhow::Result<ScaleRequest> {
    let mut req = ScaleRequest::default();
    for t in targets {
        let (svc, n) = t
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid scale target {t:?}: want SERVICE=N"))?;
        let n: u32 = n
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid replica count in {t:?}: want a number"))?;
        req.replicas.insert(svc.to_string(), n);
    }
    Ok(req)
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let req = parse_targets(&args.targets)?;
    let client = ctx.client()?;
    let job = match args.job {
        Some(j) => j,
        None => {
            let first = req.replicas.keys().next().cloned().unwrap_or_default();
            super::svclogs::job_with_service(&client, &first)?
                .map(|v| v.topology.name)
                .ok_or_else(|| anyhow::anyhow!("no job has a service {first}"))?
        }
    };
    client.scale_job(&job, &req)?;
    for (svc, n) in &req.replicas {
        println!("{job}/{svc} scaled to {n}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_parse() {
        let r = super::parse_targets(&["web=8".into(), "db=0".into()]).unwrap();
        assert_eq!(r.replicas["web"], 8);
        assert_eq!(r.replicas["db"], 0);
        assert!(super::parse_targets(&["web".into()]).is_err());
        assert!(super::parse_targets(&["web=x".into()]).is_err());
    }
}
