package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AccountEvent is the append-only audit log of security-relevant account
// changes and of admin reads of personal data.
type AccountEvent struct {
	ent.Schema
}

// Fields of the AccountEvent.
func (AccountEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").
			Immutable().
			Comment("the account the event is about"),
		field.Int("actor_id").
			Optional().
			Nillable().
			Immutable().
			Annotations(entgql.Skip()),
		field.Enum("action").
			Values("REGISTERED", "PASSWORD_CHANGED", "PHONE_CHANGED", "OPEN_ID_BOUND", "OPEN_ID_UNBOUND", "CERTIFICATION_SUBMITTED", "CERTIFICATION_REVIEWED", "PII_VIEWED").
			Immutable(),
		field.String("detail").
			Default("").
			Immutable(),
		field.String("ip").
			Default("").
			Immutable(),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the AccountEvent.
func (AccountEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("events").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
		edge.To("actor", User.Type).
			Field("actor_id").
			Unique().
			Immutable().
			Comment("who did it: the account itself, or an admin"),
	}
}

// Indexes of the AccountEvent.
func (AccountEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "created_at"),
	}
}

// Hooks of the AccountEvent.
func (AccountEvent) Hooks() []ent.Hook {
	return []ent.Hook{appendOnly}
}

// Annotations of the AccountEvent.
func (AccountEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("accountEvents"),
	}
}
