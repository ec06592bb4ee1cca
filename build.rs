//! Installs the GraphQL explorer's browser bundles (GraphiQL, React, graphql-ws) from
//! the npm registry into `OUT_DIR`, where `src/graphql/explorer.rs` embeds them, so the
//! explorer works with no internet access and nothing third-party is committed.
//!
//! `npm ci` installs exactly what `src/graphql/explorer/package-lock.json` pins (and
//! checks every package's integrity hash); it runs again only when that file or
//! `package.json` changes, and npm's cache serves repeated installs without the network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The files the explorer serves, as (path under node_modules, name served under).
const ASSETS: &[(&str, &str)] = &[
    ("graphiql/graphiql.min.js", "graphiql.min.js"),
    ("graphiql/graphiql.min.css", "graphiql.min.css"),
    ("react/umd/react.production.min.js", "react.production.min.js"),
    ("react-dom/umd/react-dom.production.min.js", "react-dom.production.min.js"),
    ("graphql-ws/umd/graphql-ws.min.js", "graphql-ws.min.js"),
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let source = manifest.join("src/graphql/explorer");
    println!("cargo:rerun-if-changed=src/graphql/explorer/package.json");
    println!("cargo:rerun-if-changed=src/graphql/explorer/package-lock.json");

    let work = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("explorer");
    fs::create_dir_all(&work).unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
    for file in ["package.json", "package-lock.json"] {
        fs::copy(source.join(file), work.join(file))
            .unwrap_or_else(|e| panic!("cannot copy {file} into {}: {e}", work.display()));
    }
    npm_ci(&work);

    let assets = work.join("assets");
    fs::create_dir_all(&assets).unwrap_or_else(|e| panic!("cannot create {}: {e}", assets.display()));
    for (from, to) in ASSETS {
        let from = work.join("node_modules").join(from);
        fs::copy(&from, assets.join(to))
            .unwrap_or_else(|e| panic!("the npm package lacks {}: {e}", from.display()));
    }
}

fn npm_ci(dir: &Path) {
    let npm = env::var("NPM").unwrap_or_else(|_| "npm".to_string());
    let status = Command::new(&npm)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])
        .current_dir(dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm ci` for the GraphQL explorer's assets failed ({s}) in {}: the build needs the npm registry (or npm's cache)",
            dir.display()
        ),
        Err(e) => panic!(
            "cannot run `{npm}` ({e}): the GraphQL explorer's assets come from the npm registry at build time; install Node.js and npm (Debian: apt-get install nodejs npm)"
        ),
    }
}
