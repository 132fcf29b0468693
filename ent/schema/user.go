package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is every account of the marketplace: customers and agents of the
// mini-program, dealers of the app, and admins. One account per phone.
type User struct {
	ent.Schema
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("telephone").
			Unique().
			NotEmpty().
			Annotations(entgql.OrderField("TELEPHONE")),
		field.String("open_id").
			Optional().
			Nillable().
			Unique().
			Annotations(entgql.Skip()),
		field.Enum("kind").
			NamedValues("Customer", "CUSTOMER", "Agent", "AGENT", "Dealer", "DEALER", "Admin", "ADMIN").
			Annotations(entgql.OrderField("KIND")),
		field.String("password_hash").
			Optional().
			Sensitive().
			Annotations(entgql.Skip()),
		field.String("nick_name").
			Default("").
			MaxLen(64),
		field.Enum("gender").
			NamedValues("Unknown", "UNKNOWN", "Male", "MALE", "Female", "FEMALE", "Third", "THIRD").
			Default("UNKNOWN"),
		field.String("favicon").
			Default("").
			Comment("blob key of the avatar; GraphQL serves its URL").
			Annotations(entgql.Skip()),
		field.Time("created_at").
			Immutable().
			Default(timeNow).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").
			Default(timeNow).
			UpdateDefault(timeNow),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("certifications", Certification.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("sessions", Session.Type).
			Annotations(entgql.Skip()),
		edge.To("uploads", Upload.Type).
			Annotations(entgql.Skip()),
		edge.To("reviews", Review.Type).
			Annotations(entgql.Skip()),
		edge.To("events", AccountEvent.Type).
			Annotations(entgql.Skip()),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("kind", "created_at"),
		// Admin listings page by creation time.
		index.Fields("created_at"),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}
