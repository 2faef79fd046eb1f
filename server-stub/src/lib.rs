//! `sails-io-stub`: a compact server that speaks the Sails socket protocol (work in progress, see README).
