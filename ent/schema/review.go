package schema

import (
	"context"
	"errors"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/carcity/identity/ent/schema/enum"
)

// Review is one decision of an admin on a certification. Append-only.
type Review struct {
	ent.Schema
}

// Fields of the Review.
func (Review) Fields() []ent.Field {
	return []ent.Field{
		field.Int("certification_id").
			Immutable(),
		field.Int("reviewer_id").
			Immutable().
			Annotations(entgql.Skip()),
		field.Enum("from_status").
			GoType(enum.CertStatus("")).
			Immutable().
			Annotations(entgql.Type("CertificationStatus")),
		field.Enum("to_status").
			GoType(enum.CertStatus("")).
			Immutable().
			Annotations(entgql.Type("CertificationStatus")),
		field.Enum("reason").
			GoType(enum.RejectReason("")).
			Optional().
			Nillable().
			Immutable().
			Annotations(entgql.Type("RejectReason")),
		field.String("comment").
			Default("").
			Immutable(),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the Review.
func (Review) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("certification", Certification.Type).
			Ref("reviews").
			Field("certification_id").
			Unique().
			Required().
			Immutable(),
		// Skipped in GraphQL: the reviewer is resolved with an authorization
		// check, so agents reading their reviews do not see admins' accounts.
		edge.From("reviewer", User.Type).
			Ref("reviews").
			Field("reviewer_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Review.
func (Review) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("certification_id", "created_at"),
	}
}

// Hooks of the Review.
func (Review) Hooks() []ent.Hook {
	return []ent.Hook{appendOnly}
}

var errAppendOnly = errors.New("append-only: rows cannot be updated or deleted")

// appendOnly refuses every mutation but create.
func appendOnly(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return nil, errAppendOnly
		}
		return next.Mutate(ctx, m)
	})
}
