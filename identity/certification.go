package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/certification"
	"github.com/carcity/identity/ent/schema/enum"
	"github.com/carcity/identity/ent/upload"
	"github.com/carcity/identity/ent/user"
)

// CertificationState is an account's certification state: the latest
// submission (nil when none) and the legacy number 0–3.
type CertificationState struct {
	Certification *ent.Certification
	Status        int
}

// MyCertification returns the state of the named account (empty: the
// caller's).
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden, CodeNotFound,
// CodeUnavailable.
func (s *Service) MyCertification(ctx context.Context, telephone string) (*CertificationState, error) {
	id, _, err := s.resolveAccount(ctx, s.db, telephone)
	if err != nil {
		return nil, err
	}
	c, err := s.latestCertification(ctx, s.db, id)
	if err != nil {
		return nil, dbError(err)
	}
	return statusOf(c), nil
}

func statusOf(c *ent.Certification) *CertificationState {
	if c == nil {
		return &CertificationState{}
	}
	return &CertificationState{Certification: c, Status: c.Status.Legacy()}
}

// SubmitCertificationInput is an agent's real-name submission. The images
// are URLs (or keys) returned by UploadImage for this account.
type SubmitCertificationInput struct {
	// Telephone names the account (legacy bodies do); empty: the caller's.
	Telephone     string `json:"-"`
	RealName      string `json:"realName" validate:"required,max=32,printable"`
	IDNumber      string `json:"idNumber" validate:"required,cnid"`
	FrontImage    string `json:"frontImage" validate:"required,max=2048"`
	Qualification string `json:"qualification" validate:"required,max=2048"`
}

// SubmitCertification puts a new submission under review. Allowed when the
// agent has none or the last one was rejected.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden, CodeConflict,
// CodeUnavailable.
func (s *Service) SubmitCertification(ctx context.Context, in SubmitCertificationInput) (*ent.Certification, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	idNumber, _ := NormalizeIDNumber(in.IDNumber, s.now())
	var created *ent.Certification
	err := s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
		u, err := s.account(ctx, db, in.Telephone)
		if err != nil {
			return err
		}
		if u.Kind != user.KindAgent {
			return Ef(CodeForbidden, "仅代理商可以提交认证")
		}
		front, err := s.ownUpload(ctx, db, u.ID, in.FrontImage, upload.PurposeIDFront)
		if err != nil {
			return notOwnUpload(err, "frontImage", "身份证照片必须是本人通过本服务上传的图片")
		}
		qual, err := s.ownUpload(ctx, db, u.ID, in.Qualification, upload.PurposeQualification)
		if err != nil {
			return notOwnUpload(err, "qualification", "资格证照片必须是本人通过本服务上传的图片")
		}
		last, err := s.latestCertification(ctx, db, u.ID)
		if err != nil {
			return err
		}
		if last != nil && last.Status == enum.CertUnderReview {
			return Ef(CodeConflict, "认证资料正在审核中，请勿重复提交")
		}
		if last != nil && last.Status == enum.CertApproved {
			return Ef(CodeConflict, "已通过认证，无需重复提交")
		}
		sealed, kid := s.vault.Seal(idNumber)
		created, err = db.Certification.Create().
			SetUserID(u.ID).
			SetRealName(in.RealName).
			SetIDNumberCipher(sealed).
			SetIDNumberKeyID(kid).
			SetIDNumberHash(s.vault.Index(idNumber)).
			SetIDNumberMasked(MaskIDNumber(idNumber)).
			SetFrontImageID(front.ID).
			SetQualificationImageID(qual.ID).
			SetSubmittedAt(s.now()).
			Save(ctx)
		if ent.IsConstraintError(err) {
			// Another submission won the race (the one-open index).
			return Ef(CodeConflict, "认证资料正在审核中，请勿重复提交")
		}
		if err != nil {
			return err
		}
		return s.record(ctx, db, u.ID, "CERTIFICATION_SUBMITTED", "")
	})
	if err != nil {
		return nil, err
	}
	return created.Unwrap(), nil
}

// AuditCertificationInput is an admin's decision. The certification is named
// by ID, or (legacy) by the agent's phone, meaning its latest one.
type AuditCertificationInput struct {
	ID        *int               `json:"id"`
	Telephone string             `json:"telephone" validate:"omitempty,cnmobile"`
	Status    enum.CertStatus    `json:"status" validate:"required"`
	Reason    *enum.RejectReason `json:"reason"`
	Comment   string             `json:"comment" validate:"max=500,printable"`
	// ExpectedVersion, when given, must match: the reviewer saw that state.
	ExpectedVersion *int `json:"expectedVersion"`
}

// AuditCertification approves or rejects (with a reason) a certification
// under review, or reopens a decided one, and appends a review. Concurrent
// decisions on the same certification: the first wins, the others get
// CodeConflict.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden, CodeNotFound,
// CodeConflict, CodeUnavailable.
func (s *Service) AuditCertification(ctx context.Context, in AuditCertificationInput) (*ent.Certification, error) {
	if err := s.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := check(in); err != nil {
		return nil, err
	}
	if in.Status.Legacy() == 0 {
		return nil, Invalid("status", fieldMessages["status"])
	}
	if in.Reason != nil && !slices.Contains(in.Reason.Values(), string(*in.Reason)) {
		return nil, Invalid("reason", "驳回原因不正确")
	}
	if in.Status == enum.CertRejected && in.Reason == nil {
		if in.ID != nil {
			return nil, Invalid("reason", fieldMessages["reason"])
		}
		// Named by phone: the legacy auditPUser, which has no reason field.
		other := enum.ReasonOther
		in.Reason = &other
	}
	if in.Status != enum.CertRejected && in.Reason != nil {
		return nil, Invalid("reason", "只有驳回时才需要选择原因")
	}
	var updated *ent.Certification
	err := s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
		c, err := s.findCertification(ctx, db, in)
		if err != nil {
			return err
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != c.Version {
			return Ef(CodeConflict, "该认证已被其他管理员处理，请刷新后重试")
		}
		// Decisions are taken on submissions under review; a decided one must
		// be reopened first. So of two admins deciding at once, the second
		// finds it decided and gets a conflict instead of overwriting.
		decision := in.Status != enum.CertUnderReview
		if decision != (c.Status == enum.CertUnderReview) {
			return Ef(CodeConflict, "该认证已被处理，请刷新后重试")
		}
		now := s.now()
		// The version guard makes the second of two concurrent decisions
		// update nothing.
		upd := db.Certification.Update().
			Where(certification.ID(c.ID), certification.Version(c.Version)).
			SetStatus(in.Status).
			SetReviewComment(in.Comment).
			SetReviewedAt(now).
			AddVersion(1)
		if in.Reason != nil {
			upd.SetRejectReason(*in.Reason)
		} else {
			upd.ClearRejectReason()
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return Ef(CodeConflict, "该认证已被其他管理员处理，请刷新后重试")
		}
		err = db.Review.Create().
			SetCertificationID(c.ID).
			SetReviewerID(ActorFrom(ctx).UserID).
			SetFromStatus(c.Status).
			SetToStatus(in.Status).
			SetNillableReason(in.Reason).
			SetComment(in.Comment).
			SetCreatedAt(now).
			Exec(ctx)
		if err != nil {
			return err
		}
		if err := s.record(ctx, db, c.UserID, "CERTIFICATION_REVIEWED", fmt.Sprintf("%s -> %s", c.Status, in.Status)); err != nil {
			return err
		}
		updated, err = db.Certification.Get(ctx, c.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return updated.Unwrap(), nil
}

func (s *Service) findCertification(ctx context.Context, db *ent.Client, in AuditCertificationInput) (*ent.Certification, error) {
	if in.ID != nil {
		c, err := db.Certification.Get(ctx, *in.ID)
		if ent.IsNotFound(err) {
			return nil, Ef(CodeNotFound, "认证记录不存在")
		}
		return c, err
	}
	phone, ok := NormalizePhone(in.Telephone)
	if !ok {
		return nil, Invalid("telephone", fieldMessages["telephone"])
	}
	u, err := db.User.Query().Where(user.Telephone(phone)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, Ef(CodeNotFound, "用户不存在")
	}
	if err != nil {
		return nil, err
	}
	c, err := s.latestCertification(ctx, db, u.ID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, Ef(CodeNotFound, "该用户尚未提交认证")
	}
	return c, nil
}

// IDNumber is the certification's resident ID number: in clear for admins
// (each read is logged in the account audit log), masked for its owner.
//
// Errors: CodeUnauthenticated, CodeForbidden, CodeUnavailable.
func (s *Service) IDNumber(ctx context.Context, c *ent.Certification) (string, error) {
	a := ActorFrom(ctx)
	switch {
	case a == nil:
		return "", E(CodeUnauthenticated)
	case a.Kind == user.KindAdmin:
		plain, err := s.vault.Open(c.IDNumberCipher, c.IDNumberKeyID)
		if err != nil {
			return "", Wrap(CodeInternal, err)
		}
		if err := s.record(ctx, s.db, c.UserID, "PII_VIEWED", fmt.Sprintf("certification %d id number", c.ID)); err != nil {
			return "", dbError(err)
		}
		return plain, nil
	case a.UserID == c.UserID:
		return c.IDNumberMasked, nil
	}
	return "", E(CodeForbidden)
}

// CertificationImages are signed URLs of a certification's photos, for its
// owner and admins (admin reads are logged).
type CertificationImages struct {
	FrontImage    string
	Qualification string
}

// Images returns the photos of c.
//
// Errors: CodeUnauthenticated, CodeForbidden, CodeUnavailable.
func (s *Service) Images(ctx context.Context, c *ent.Certification) (*CertificationImages, error) {
	if ActorFrom(ctx) == nil {
		return nil, E(CodeUnauthenticated)
	}
	if !s.CanSee(ctx, c.UserID) {
		return nil, E(CodeForbidden)
	}
	ups, err := s.db.Upload.Query().Where(upload.IDIn(c.FrontImageID, c.QualificationImageID)).All(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	out := &CertificationImages{}
	for _, up := range ups {
		url, err := s.FileURL(ctx, up.Key)
		if err != nil {
			return nil, err
		}
		if up.ID == c.FrontImageID {
			out.FrontImage = url
		} else {
			out.Qualification = url
		}
	}
	if ActorFrom(ctx).Kind == user.KindAdmin {
		if err := s.record(ctx, s.db, c.UserID, "PII_VIEWED", fmt.Sprintf("certification %d photos", c.ID)); err != nil {
			return nil, dbError(err)
		}
	}
	return out, nil
}

// DuplicateIDNumber lists other accounts' open or approved certifications
// with the same ID number, flagged to reviewers.
//
// Errors: CodeUnauthenticated, CodeForbidden, CodeUnavailable.
func (s *Service) DuplicateIDNumber(ctx context.Context, c *ent.Certification) ([]*ent.Certification, error) {
	if err := s.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	dups, err := s.db.Certification.Query().
		Where(
			certification.IDNumberHash(c.IDNumberHash),
			certification.UserIDNEQ(c.UserID),
			certification.StatusNEQ(enum.CertRejected),
		).
		All(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	return dups, nil
}
