package identity

import (
	"fmt"
	"io"
	"strconv"

	"github.com/carcity/identity/ent/user"
)

// Channel is the client a phone code is for; codes of one channel are not
// accepted by another.
type Channel string

// The channels: the mini-program's customer and agent pages, the dealer app.
const (
	ChannelCustomer Channel = "CUSTOMER"
	ChannelAgent    Channel = "AGENT"
	ChannelDealer   Channel = "DEALER"
)

// MarshalGQL writes the GraphQL enum value.
func (c Channel) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL reads a GraphQL enum value.
func (c *Channel) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch Channel(s) {
	case ChannelCustomer, ChannelAgent, ChannelDealer:
		*c = Channel(s)
		return nil
	}
	return Invalid("channel", fmt.Sprintf("%v 不是有效的渠道", v))
}

// ImagePurpose is what an uploaded image is for.
type ImagePurpose string

// The purposes; ID photos are private, avatars public.
const (
	PurposeAvatar        ImagePurpose = "AVATAR"
	PurposeIDFront       ImagePurpose = "ID_FRONT"
	PurposeQualification ImagePurpose = "QUALIFICATION"
)

// MarshalGQL writes the GraphQL enum value.
func (p ImagePurpose) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL reads a GraphQL enum value.
func (p *ImagePurpose) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch ImagePurpose(s) {
	case PurposeAvatar, PurposeIDFront, PurposeQualification:
		*p = ImagePurpose(s)
		return nil
	}
	return Invalid("kind", fmt.Sprintf("%v 不是有效的图片用途", v))
}

var legacyGenders = []user.Gender{user.GenderUnknown, user.GenderMale, user.GenderFemale, user.GenderThird}

// GenderFromLegacy maps the legacy numbers 0 unknown, 1 male, 2 female,
// 3 third.
func GenderFromLegacy(n int) (user.Gender, bool) {
	if n < 0 || n >= len(legacyGenders) {
		return "", false
	}
	return legacyGenders[n], true
}

// LegacyGender is the legacy number of g.
func LegacyGender(g user.Gender) int {
	for i, known := range legacyGenders {
		if g == known {
			return i
		}
	}
	return 0
}
