// Package graph is the GraphQL transport: every resolver decodes its
// arguments, makes one call to the identity service and returns the result.
package graph

import "github.com/carcity/identity/identity"

// Resolver is the root resolver.
type Resolver struct {
	svc *identity.Service
}
