fn main() {
    eprintln!("sails-io-stub: the server is not built yet (see README)");
    std::process::exit(2);
}
