package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/graph/generated"
)

// pageCost is a connection's complexity: its children once per requested
// row, so nested listings are bounded by the complexity limit.
func pageCost(childComplexity int, first, last *int) int {
	n := defaultPage
	if first != nil {
		n = *first
	} else if last != nil {
		n = *last
	}
	return 1 + childComplexity*max(n, 1)
}

// complexity prices the connections by page size.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Users = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.UserOrder, _ *ent.UserWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.Certifications = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.CertificationOrder, _ *ent.CertificationWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.AccountEvents = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.AccountEventOrder, _ *ent.AccountEventWhereInput) int {
		return pageCost(child, first, last)
	}
	c.User.Certifications = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.CertificationOrder, _ *ent.CertificationWhereInput) int {
		return pageCost(child, first, last)
	}
	return c
}
