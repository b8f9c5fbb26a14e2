pub mod gofmt;
pub mod names;
pub mod proto;
