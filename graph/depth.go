package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/carcity/identity/identity"
)

// depthLimit refuses operations nested deeper than max fields, which the
// complexity limit alone does not bound for cheap recursive selections
// (user → certifications → user → …).
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	if depth(op.Operation.SelectionSet, op.Doc.Fragments, 0) > d.max {
		err := gqlerror.Errorf("query is nested deeper than %d levels", d.max)
		err.Extensions = map[string]any{"code": identity.CodeValidation, "errCode": identity.CodeValidation.LegacyCode()}
		return err
	}
	return nil
}

func depth(set ast.SelectionSet, fragments ast.FragmentDefinitionList, level int) int {
	if level > 64 {
		return level // fragment cycles are refused by validation; stop anyway
	}
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = depth(s.SelectionSet, fragments, level+1)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, fragments, level)
		case *ast.FragmentSpread:
			if f := fragments.ForName(s.Name); f != nil {
				d = depth(f.SelectionSet, fragments, level)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
