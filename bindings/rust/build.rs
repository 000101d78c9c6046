//! Links libstark.so from $STARK_LIB_DIR (default: ../../build/lib, i.e. the
//! repository's `make lib` output) and bakes that directory in as an rpath so
//! tests and examples run without LD_LIBRARY_PATH.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=STARK_LIB_DIR");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = match env::var_os("STARK_LIB_DIR") {
        Some(d) if !d.is_empty() => {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                env::current_dir().expect("current dir").join(p)
            }
        }
        _ => manifest.join("../../build/lib"),
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    if !dir.join("libstark.so").exists() {
        println!(
            "cargo:warning=libstark.so not found in {} (run `make lib` or set STARK_LIB_DIR)",
            dir.display()
        );
    }
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("libstark.so").display()
    );
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=stark");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:lib_dir={}", dir.display());
}
