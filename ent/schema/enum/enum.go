// Package enum holds the enumerations that several ent types share, so that
// GraphQL sees one type for each (CertificationStatus, RejectReason).
package enum

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrInvalidValue is wrapped by the unmarshal errors, so transports can tell
// a client's bad value from a server fault.
var ErrInvalidValue = errors.New("invalid enum value")

// CertStatus is the state of a certification submission.
type CertStatus string

// The states of a submission; "not certified" (0) is the absence of one.
const (
	CertUnderReview CertStatus = "UNDER_REVIEW"
	CertRejected    CertStatus = "REJECTED"
	CertApproved    CertStatus = "APPROVED"
)

// Values lists the stored values, for ent.
func (CertStatus) Values() []string {
	return []string{string(CertUnderReview), string(CertRejected), string(CertApproved)}
}

// Legacy is the number the legacy API uses: 1 under review, 2 rejected, 3 approved.
func (s CertStatus) Legacy() int {
	switch s {
	case CertUnderReview:
		return 1
	case CertRejected:
		return 2
	case CertApproved:
		return 3
	}
	return 0
}

// CertStatusFromLegacy maps 1, 2, 3 back; ok is false for anything else.
func CertStatusFromLegacy(n int) (CertStatus, bool) {
	switch n {
	case 1:
		return CertUnderReview, true
	case 2:
		return CertRejected, true
	case 3:
		return CertApproved, true
	}
	return "", false
}

// MarshalGQL writes the GraphQL enum value.
func (s CertStatus) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *CertStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: CertificationStatus must be a string", ErrInvalidValue)
	}
	for _, known := range s.Values() {
		if str == known {
			*s = CertStatus(str)
			return nil
		}
	}
	return fmt.Errorf("%w: %q is not a valid CertificationStatus", ErrInvalidValue, str)
}

// RejectReason is the fixed list a reviewer picks from when rejecting.
type RejectReason string

// The reasons for a rejection.
const (
	ReasonBlurryImage          RejectReason = "BLURRY_IMAGE"
	ReasonNameIDMismatch       RejectReason = "NAME_ID_MISMATCH"
	ReasonExpiredCertificate   RejectReason = "EXPIRED_CERTIFICATE"
	ReasonInvalidQualification RejectReason = "INVALID_QUALIFICATION"
	ReasonIncompleteInfo       RejectReason = "INCOMPLETE_INFORMATION"
	ReasonOther                RejectReason = "OTHER"
)

// Values lists the stored values, for ent.
func (RejectReason) Values() []string {
	return []string{
		string(ReasonBlurryImage), string(ReasonNameIDMismatch), string(ReasonExpiredCertificate),
		string(ReasonInvalidQualification), string(ReasonIncompleteInfo), string(ReasonOther),
	}
}

// MarshalGQL writes the GraphQL enum value.
func (r RejectReason) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads a GraphQL enum value.
func (r *RejectReason) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: RejectReason must be a string", ErrInvalidValue)
	}
	for _, known := range r.Values() {
		if str == known {
			*r = RejectReason(str)
			return nil
		}
	}
	return fmt.Errorf("%w: %q is not a valid RejectReason", ErrInvalidValue, str)
}
