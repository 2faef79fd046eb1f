//! Shared by the integration tests: the real Sails app of `tests/interop/sails-app` as a child process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// `npm ci` for the real app, once per test binary.
fn ensure_real_app_deps() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let status = Command::new(interop_dir().join("ensure-deps.sh"))
            .arg(interop_dir().join("sails-app"))
            .stdout(Stdio::null())
            .status()
            .expect("run ensure-deps.sh (needs bash, node and npm)");
        assert!(status.success(), "npm ci for the real Sails app failed");
    });
}

/// The real Sails app as a child process, with the fault routes and the given socket settings.
pub struct RealSails {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
}

impl RealSails {
    /// Lifts the app on `port` (0: any) with the fault routes and the given environment.
    pub fn start(port: u16, env: &[(&str, &str)]) -> RealSails {
        ensure_real_app_deps();
        let mut cmd = Command::new("node");
        cmd.arg(interop_dir().join("sails-app/app.js"))
            .arg("--port")
            .arg(port.to_string())
            .env("SAILS_FAULT_ROUTES", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start node (is node installed?)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("the Sails app lifts within 60 s");
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        RealSails { child, url: url.to_owned(), port }
    }

    /// Sends a signal (`STOP`, `CONT`, …).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// SIGKILL: the kernel closes every TCP connection, no goodbye frames.
    /// SIGKILL, then reap.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RealSails {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-CONT").arg(self.child.id().to_string()).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
