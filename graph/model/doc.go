// Package model would hold GraphQL types that neither ent nor the identity
// package provides; gqlgen autobinds all of them today, so it is empty.
package model
