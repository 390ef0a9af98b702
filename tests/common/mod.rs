pub mod strategies;
