//! Real-world-shaped Compose files, lowered into topologies.

mod common;

use common::Project;
use skiff_spec::LoadOptions;
use skiff_types::{DependsCondition, HealthProbe, MountKind, Proto, RestartPolicy};

const WORDPRESS: &str = r#"
services:
  db:
    image: mysql:8.0
    command: '--default-authentication-plugin=mysql_native_password'
    volumes:
      - db_data:/var/lib/mysql
    restart: always
    environment:
      - MYSQL_ROOT_PASSWORD=somewordpress
      - MYSQL_DATABASE=wordpress
      - MYSQL_USER=wordpress
      - MYSQL_PASSWORD=wordpress
    expose:
      - 3306
      - 33060
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 1m30s
      timeout: 10s
      retries: 5
      start_period: 40s
      start_interval: 2s
  wordpress:
    image: wordpress:latest
    volumes:
      - wp_data:/var/www/html
    ports:
      - 80:80
    restart: always
    depends_on:
      db:
        condition: service_healthy
    environment:
      WORDPRESS_DB_HOST: db
      WORDPRESS_DB_USER: wordpress
      WORDPRESS_DB_PASSWORD: wordpress
      WORDPRESS_DB_NAME: wordpress
volumes:
  db_data:
  wp_data:
"#;

#[test]
fn wordpress_and_mysql() {
    let p = Project::new(&[("compose.yaml", WORDPRESS)]);
    let t = p.ok(&["compose.yaml"]);
    assert_eq!(t.name, "p");
    let db = &t.services["db"];
    assert_eq!(db.image.as_deref(), Some("mysql:8.0"));
    assert_eq!(
        db.command.as_deref(),
        Some(&["--default-authentication-plugin=mysql_native_password".to_string()][..])
    );
    assert_eq!(db.env["MYSQL_DATABASE"], "wordpress");
    assert_eq!(db.expose, vec![3306, 33060]);
    assert_eq!(db.restart, RestartPolicy::Always);
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!(hc.interval_ms, 90_000);
    assert_eq!(hc.timeout_ms, 10_000);
    assert_eq!(hc.retries, 5);
    assert_eq!(hc.start_period_ms, 40_000);
    assert_eq!(hc.start_interval_ms, 2_000);
    assert_eq!(
        hc.probe,
        HealthProbe::Cmd {
            argv: vec![
                "mysqladmin".into(),
                "ping".into(),
                "-h".into(),
                "localhost".into()
            ]
        }
    );
    assert_eq!(db.volumes[0].kind, MountKind::Volume);
    assert_eq!(db.volumes[0].source, "db_data");
    let wp = &t.services["wordpress"];
    assert_eq!(wp.depends_on["db"], DependsCondition::Healthy);
    assert_eq!(wp.ports[0].host, Some(80));
    assert_eq!(wp.ports[0].container, 80);
    assert_eq!(wp.env["WORDPRESS_DB_HOST"], "db");
    assert_eq!(t.volumes.len(), 2);
}

#[test]
fn redis_web_worker_with_builds_deploy_and_env_files() {
    let compose = r#"
name: shop
x-common: &common
  restart: unless-stopped
  env_file: common.env
  labels:
    team: shop
services:
  redis:
    image: redis:7-alpine
    command: ["redis-server", "--appendonly", "yes"]
    healthcheck:
      test: redis-cli ping | grep PONG
      interval: 5s
  web:
    <<: *common
    build:
      context: ./web
      dockerfile: Containerfile
      args:
        - VERSION=1.2
    ports:
      - "127.0.0.1:8080:8000/tcp"
      - target: 9000
        published: "9001"
        protocol: udp
      - "7000-7002:7000-7002"
    environment:
      REDIS_URL: redis://redis:6379
      DEBUG: false
      WORKERS: 4
    depends_on: [redis]
    deploy:
      replicas: 3
      resources:
        limits:
          cpus: "0.50"
          memory: 256M
  worker:
    <<: *common
    image: shop/worker
    entrypoint: /usr/bin/worker --queue "high prio"
    depends_on:
      redis:
        condition: service_started
      migrate:
        condition: service_completed_successfully
    volumes:
      - type: bind
        source: ./data
        target: /data
        read_only: true
      - type: tmpfs
        target: /tmp
  migrate:
    image: shop/worker
    command: migrate
    restart: "no"
"#;
    let p = Project::new(&[
        ("compose.yml", compose),
        ("common.env", "TZ=UTC\nREDIS_URL=overridden\n"),
    ]);
    let t = p.load(&["compose.yml"], &LoadOptions::default()).unwrap();
    assert_eq!(t.name, "shop");
    let redis = &t.services["redis"];
    assert_eq!(
        redis.healthcheck.as_ref().unwrap().probe,
        HealthProbe::Cmd {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                "redis-cli ping | grep PONG".into()
            ]
        }
    );
    let web = &t.services["web"];
    let build = web.build.as_ref().unwrap();
    assert_eq!(
        (build.context.as_str(), build.file.as_deref()),
        ("./web", Some("Containerfile"))
    );
    assert_eq!(build.args["VERSION"], "1.2");
    assert_eq!(web.replicas, 3);
    assert_eq!(web.resources.cpu_milli, Some(500));
    assert_eq!(web.resources.memory, Some(256 << 20));
    assert_eq!(web.restart, RestartPolicy::UnlessStopped);
    assert_eq!(web.labels["team"], "shop");
    assert_eq!(web.env["TZ"], "UTC");
    assert_eq!(
        web.env["REDIS_URL"], "redis://redis:6379",
        "environment beats env_file"
    );
    assert_eq!(web.env["DEBUG"], "false");
    assert_eq!(web.env["WORKERS"], "4");
    assert_eq!(web.ports.len(), 5);
    assert_eq!(web.ports[0].host_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(web.ports[1].proto, Proto::Udp);
    assert_eq!(web.ports[1].host, Some(9001));
    assert_eq!(
        (web.ports[4].host, web.ports[4].container),
        (Some(7002), 7002)
    );
    let worker = &t.services["worker"];
    assert_eq!(
        worker.entrypoint.as_deref().unwrap(),
        &["/usr/bin/worker", "--queue", "high prio"]
    );
    assert_eq!(worker.depends_on["migrate"], DependsCondition::Completed);
    assert_eq!(worker.volumes[0].kind, MountKind::Bind);
    assert!(worker.volumes[0].read_only);
    assert_eq!(worker.volumes[1].kind, MountKind::Tmpfs);
    assert_eq!(t.services["migrate"].restart, RestartPolicy::No);
}

#[test]
fn profiles_select_services() {
    let compose = r#"
services:
  app:
    image: app
  debug:
    image: busybox
    profiles: [debug]
  adminer:
    image: adminer
    profiles: ["tools", "debug"]
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let t = p.ok(&["compose.yaml"]);
    assert_eq!(t.services.keys().collect::<Vec<_>>(), vec!["app"]);
    let opts = LoadOptions {
        profiles: vec!["tools".into()],
        ..Default::default()
    };
    let t = p.load(&["compose.yaml"], &opts).unwrap();
    assert_eq!(
        t.services.keys().collect::<Vec<_>>(),
        vec!["adminer", "app"]
    );
    assert_eq!(t.services["adminer"].profiles, vec!["tools", "debug"]);
}

#[test]
fn depending_on_a_profiled_out_service_is_an_error() {
    let compose = "services:\n  app:\n    image: app\n    depends_on: [db]\n  db:\n    image: db\n    profiles: [full]\n";
    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("compose.yaml:4:18: "), "{e:?}");
    assert!(e[0].contains("active profiles"), "{e:?}");
}

#[test]
fn two_files_merge_like_compose() {
    let base = r#"
services:
  web:
    image: web:1
    command: ["serve", "--port", "80"]
    environment:
      - LEVEL=info
      - KEEP=yes
    ports: ["80:80"]
    volumes:
      - ./site:/srv
      - logs:/var/log
    labels:
      a: "1"
    depends_on: [cache]
  cache:
    image: redis
volumes:
  logs:
"#;
    let over = r#"
services:
  web:
    image: web:2
    command: serve --debug
    environment:
      LEVEL: debug
    ports: ["8443:443"]
    volumes:
      - ./dev-site:/srv:ro
    labels:
      b: "2"
    depends_on:
      cache:
        condition: service_healthy
    deploy:
      replicas: 2
  cache:
    healthcheck:
      test: ["CMD-SHELL", "redis-cli ping"]
"#;
    let p = Project::new(&[("compose.yaml", base), ("compose.override.yaml", over)]);
    let t = p.ok(&["compose.yaml", "compose.override.yaml"]);
    let web = &t.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(
        web.command.as_deref().unwrap(),
        &["serve", "--debug"],
        "command is replaced"
    );
    assert_eq!(web.env["LEVEL"], "debug");
    assert_eq!(web.env["KEEP"], "yes");
    let ports: Vec<u16> = web.ports.iter().map(|p| p.container).collect();
    assert_eq!(ports, vec![80, 443], "ports append");
    assert_eq!(web.volumes.len(), 2, "volumes merge by target");
    assert_eq!(web.volumes[0].source, "./dev-site");
    assert!(web.volumes[0].read_only);
    assert_eq!(web.labels.len(), 2);
    assert_eq!(web.depends_on["cache"], DependsCondition::Healthy);
    assert_eq!(web.replicas, 2);
    assert_eq!(t.services["cache"].image.as_deref(), Some("redis"));
    assert!(t.services["cache"].healthcheck.is_some());
}

#[test]
fn dotenv_interpolation() {
    let compose = r#"
services:
  web:
    image: "${REGISTRY:-docker.io}/app:${TAG:?set TAG in .env}"
    ports: ["${PORT-8080}:80"]
    environment:
      GREETING: "hello $$USER from ${NAME}"
      EMPTY_DEFAULT: "${UNSET_EMPTY:-fallback}"
      DASH_ONLY: "${SET_EMPTY-kept-empty}"
"#;
    let env = "TAG=1.4\nNAME=skiff\nSET_EMPTY=\nPORT=9090\n";
    let p = Project::new(&[("compose.yaml", compose), (".env", env)]);
    let mut opts = LoadOptions::default();
    opts.vars.insert("PORT".into(), "7070".into());
    let t = p.load(&["compose.yaml"], &opts).unwrap();
    let web = &t.services["web"];
    assert_eq!(web.image.as_deref(), Some("docker.io/app:1.4"));
    assert_eq!(
        web.ports[0].host,
        Some(7070),
        "the caller's environment beats .env"
    );
    assert_eq!(web.env["GREETING"], "hello $USER from skiff");
    assert_eq!(web.env["EMPTY_DEFAULT"], "fallback");
    assert_eq!(web.env["DASH_ONLY"], "");

    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("compose.yaml:4:12: required variable TAG"),
        "{e:?}"
    );
    assert!(e[0].contains("set TAG in .env"));
}

#[test]
fn configs_secrets_networks_and_healthcheck_forms() {
    let compose = r#"
services:
  proxy:
    image: nginx
    configs:
      - source: nginx_conf
        target: /etc/nginx/nginx.conf
    secrets: [tls_key]
    networks:
      front:
      back:
    healthcheck:
      disable: true
  api:
    image: api
    networks: [back]
    healthcheck:
      test: ["NONE"]
configs:
  nginx_conf:
    file: ./nginx.conf
secrets:
  tls_key:
    file: ./key.pem
networks:
  front:
  back:
    internal: true
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let t = p.ok(&["compose.yaml"]);
    let proxy = &t.services["proxy"];
    assert_eq!(proxy.files.len(), 2);
    assert_eq!(
        proxy.files[0].source, "./nginx.conf",
        "as written, like a bind source"
    );
    assert_eq!(proxy.files[0].target, "/etc/nginx/nginx.conf");
    assert_eq!(proxy.files[1].target, "/run/secrets/tls_key");
    assert_eq!(proxy.networks, vec!["front", "back"]);
    // Both forms turn the image's HEALTHCHECK off too.
    assert!(proxy.healthcheck.is_none() && proxy.no_healthcheck);
    let api = &t.services["api"];
    assert!(api.healthcheck.is_none() && api.no_healthcheck);
    assert!(t.networks["back"].internal);
}

#[test]
fn unsupported_keys_are_named_with_their_position() {
    let compose = "services:\n  web:\n    image: nginx\n    privileged: true\n    deploy:\n      placement:\n        constraints: []\n    frobnicate: 1\n";
    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(
        e,
        vec![
            "compose.yaml:4:5: `privileged` in service `web` is not supported by skiff",
            "compose.yaml:6:7: `placement` in deploy is not supported by skiff",
            "compose.yaml:8:5: unknown key `frobnicate` in service `web`",
        ]
    );
}

#[test]
fn compose_reference_errors_point_at_the_reference() {
    let compose = r#"services:
  web:
    image: web
    depends_on:
      api:
        condition: service_healthy
      ghost:
        condition: service_started
    volumes:
      - undeclared:/data
    networks: [nowhere]
  api:
    image: api
    depends_on: [web]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10 parsecs
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(
        e,
        vec![
            "compose.yaml:5:7: depends_on cycle: api -> web -> api",
            "compose.yaml:7:7: depends_on: unknown service `ghost` (in service `web`)",
            "compose.yaml:10:9: service `web` uses volume `undeclared`, which is not declared in the top-level volumes",
            "compose.yaml:11:16: service `web` uses network `nowhere`, which is not declared in the top-level networks",
            "compose.yaml:17:17: interval: invalid duration (want e.g. 30s, 1m30s, 500ms)",
        ]
    );
}

#[test]
fn override_file_errors_name_the_override() {
    let p = Project::new(&[
        ("compose.yaml", "services:\n  web:\n    image: web\n"),
        (
            "override.yaml",
            "services:\n  web:\n    ports: [\"99999:80\"]\n",
        ),
    ]);
    let e = p.errors(&["compose.yaml", "override.yaml"], &LoadOptions::default());
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("override.yaml:3:13: invalid port \"99999:80\""),
        "{e:?}"
    );
}

#[test]
fn reservations_are_read_and_checked_against_limits() {
    let compose = r#"services:
  web:
    image: web
    deploy:
      resources:
        limits: {cpus: "1", memory: 512m}
        reservations: {cpus: "0.25", memory: 128m}
  db:
    image: db
    mem_reservation: 64m
  bad:
    image: bad
    deploy:
      resources:
        limits: {cpus: "0.5"}
        reservations: {cpus: "2"}
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(
        e,
        vec!["compose.yaml:16:23: deploy.resources.reservations.cpus is above limits.cpus"]
    );
    let good = compose.split("  bad:").next().unwrap();
    let p = Project::new(&[("compose.yaml", good)]);
    let t = p.load(&["compose.yaml"], &LoadOptions::default()).unwrap();
    let web = t.services["web"].resources;
    assert_eq!(
        (web.cpu_milli, web.reserve_cpu_milli),
        (Some(1000), Some(250))
    );
    assert_eq!(web.charge(), skiff_types::Capacity::new(250, 128 << 20));
    let db = t.services["db"].resources;
    assert_eq!(db.charge(), skiff_types::Capacity::new(0, 64 << 20));
}
