package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Upload is an image a user sent through the service. Certifications and
// avatars may only point at uploads of their own user.
type Upload struct {
	ent.Schema
}

// Fields of the Upload.
func (Upload) Fields() []ent.Field {
	return []ent.Field{
		// Empty for avatars uploaded without an account (legacy mode); the
		// first account to use one claims it.
		field.Int("owner_id").
			Optional().
			Nillable(),
		field.String("key").
			Unique().
			Immutable().
			Comment("object key in the blob store"),
		field.Enum("purpose").
			NamedValues("Avatar", "AVATAR", "IDFront", "ID_FRONT", "Qualification", "QUALIFICATION").
			Immutable(),
		field.String("content_type").
			Immutable(),
		field.Int64("size").
			Immutable(),
		field.Time("created_at").
			Immutable().
			Default(timeNow),
	}
}

// Edges of the Upload.
func (Upload) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).
			Ref("uploads").
			Field("owner_id").
			Unique(),
	}
}

// Annotations of the Upload.
func (Upload) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
