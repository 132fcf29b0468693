package main

// ent first: it writes schema/ent.graphqls, which gqlgen then reads.
//go:generate go run ./ent/entc.go
//go:generate go tool gqlgen generate
