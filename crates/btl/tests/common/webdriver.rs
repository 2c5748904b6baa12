//! A minimal W3C WebDriver client over [`super::http`], driving Debian's
//! headless Chromium through chromedriver.

use super::http::request;
use super::{free_port, require_tool, Spawned};
use base64::Engine;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The element reference key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver we started and one browser session in it.
pub struct Browser {
    _driver: Spawned,
    addr: SocketAddr,
    session: String,
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let r = request(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let v = r.json();
    assert!(
        r.status == 200,
        "webdriver {method} {path}: {} {}",
        r.status,
        v
    );
    v["value"].clone()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile in
    /// `dir`.
    pub fn start(dir: &Path) -> Browser {
        require_tool("chromedriver", "chromium-driver");
        require_tool("chromium", "chromium");
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let driver = Spawned::start(cmd, "chromedriver", dir);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Ready when /status says so.
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = std::net::TcpStream::connect(addr).is_ok()
                && request(addr, "GET", "/status", &[], b"").json()["value"]["ready"] == true;
            if ready {
                break;
            }
            assert!(
                Instant::now() < end,
                "chromedriver did not start within 60 s"
            );
            std::thread::park_timeout(Duration::from_millis(100));
        }
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let v = call(addr, "POST", "/session", Some(&caps));
        let session = v["sessionId"].as_str().expect("session id").to_string();
        Browser {
            _driver: driver,
            addr,
            session,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens a URL.
    pub fn goto(&self, url: &str) {
        call(
            self.addr,
            "POST",
            &self.path("/url"),
            Some(&json!({"url": url})),
        );
    }

    /// Runs JavaScript in the page and returns its result.
    pub fn eval(&self, script: &str) -> Value {
        call(
            self.addr,
            "POST",
            &self.path("/execute/sync"),
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// The element a CSS selector names (the first).
    pub fn find(&self, css: &str) -> String {
        let v = call(
            self.addr,
            "POST",
            &self.path("/element"),
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    /// Types into an element.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        call(
            self.addr,
            "POST",
            &self.path(&format!("/element/{e}/value")),
            Some(&json!({"text": text})),
        );
    }

    /// Clicks an element (found again if the page replaced it between
    /// the lookup and the click).
    pub fn click(&self, css: &str) {
        for _ in 0..5 {
            let e = self.find(css);
            let r = request(
                self.addr,
                "POST",
                &self.path(&format!("/element/{e}/click")),
                &[("Content-Type", "application/json")],
                b"{}",
            );
            if r.status == 200 {
                return;
            }
            assert_eq!(
                r.json()["value"]["error"],
                "stale element reference",
                "click {css}: {}",
                r.text()
            );
        }
        panic!("click {css}: the element kept being replaced");
    }

    /// Evaluates `script` until it returns something truthy, with a
    /// deadline; returns that value.
    pub fn wait_for(&self, what: &str, deadline: Duration, script: &str) -> Value {
        let end = Instant::now() + deadline;
        loop {
            let v = self.eval(script);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < end,
                "browser: {what} did not happen within {deadline:?}"
            );
            std::thread::park_timeout(Duration::from_millis(150));
        }
    }

    /// Saves a PNG screenshot of the window.
    pub fn screenshot(&self, to: &Path) {
        let v = call(self.addr, "GET", &self.path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(to, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the browser; chromedriver itself is killed by Spawned.
        let _ = std::net::TcpStream::connect(self.addr).map(|_| {
            request(self.addr, "DELETE", &self.path(""), &[], b"");
        });
    }
}
