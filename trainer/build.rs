//! Writes an rpath to libtorch's folder into every binary of the package, so `nst-train`
//! and the tests run without LD_LIBRARY_PATH. LIBTORCH comes from .cargo/config.toml
//! (the project's .venv, made by `make setup`) or the user's environment.
//! Shared by the packages that link libtorch (`build = "../trainer/build.rs"`).

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
