package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/carcity/identity/ent/schema/enum"
)

// Certification is one real-name submission of an agent. A resubmission after
// a rejection is a new row, so the history of reviews stays intact.
type Certification struct {
	ent.Schema
}

// Fields of the Certification.
func (Certification) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").
			Immutable(),
		field.String("real_name").
			NotEmpty().
			MaxLen(64),
		field.Bytes("id_number_cipher").
			Sensitive().
			Immutable().
			Annotations(entgql.Skip()),
		field.String("id_number_key_id").
			Immutable().
			Annotations(entgql.Skip()),
		field.String("id_number_hash").
			Immutable().
			Annotations(entgql.Skip()),
		field.String("id_number_masked").
			Immutable().
			Annotations(entgql.Skip()),
		field.Int("front_image_id").
			Immutable().
			Annotations(entgql.Skip()),
		field.Int("qualification_image_id").
			Immutable().
			Annotations(entgql.Skip()),
		field.Enum("status").
			GoType(enum.CertStatus("")).
			Default(string(enum.CertUnderReview)).
			Annotations(entgql.Type("CertificationStatus"), entgql.OrderField("STATUS")),
		field.Int("version").
			Default(1).
			Comment("bumped by every review; reviews name the version they saw"),
		field.Enum("reject_reason").
			GoType(enum.RejectReason("")).
			Optional().
			Nillable().
			Annotations(entgql.Type("RejectReason")),
		field.String("review_comment").
			Default("").
			MaxLen(500),
		field.Time("submitted_at").
			Immutable().
			Default(timeNow).
			Annotations(entgql.OrderField("SUBMITTED_AT")),
		field.Time("reviewed_at").
			Optional().
			Nillable().
			Annotations(entgql.OrderField("REVIEWED_AT")),
	}
}

// Edges of the Certification.
func (Certification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("certifications").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
		edge.To("front_image", Upload.Type).
			Field("front_image_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip()),
		edge.To("qualification_image", Upload.Type).
			Field("qualification_image_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip()),
		edge.To("reviews", Review.Type).
			Annotations(entgql.OrderField("REVIEWS_COUNT")),
	}
}

// Indexes of the Certification.
func (Certification) Indexes() []ent.Index {
	return []ent.Index{
		// At most one open (under review or approved) certification per agent.
		index.Fields("user_id").
			Unique().
			Annotations(entsql.IndexWhere("status <> 'REJECTED'")),
		// A user's certifications, newest last (the partial unique index
		// above cannot serve queries without its status condition).
		index.Fields("user_id", "submitted_at"),
		index.Fields("id_number_hash"),
		index.Fields("status", "submitted_at"),
	}
}

// Annotations of the Certification.
func (Certification) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}
