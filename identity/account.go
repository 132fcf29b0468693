package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/certification"
	"github.com/carcity/identity/ent/upload"
	"github.com/carcity/identity/ent/user"
)

// RegisterInput creates a dealer account. Code and Captcha are the answers
// already given to verifyPhoneCode/verifyCaptcha, or given here for the
// first time.
type RegisterInput struct {
	DeviceID  string `json:"deviceId" validate:"required,max=128,printable"`
	Telephone string `json:"telephone" validate:"required,cnmobile"`
	Code      string `json:"code" validate:"required,len=6,numeric"`
	Captcha   string `json:"captcha" validate:"required,max=16"`
	Password  string `json:"password" validate:"required,min=8,max=64"`
}

// Register creates a dealer account and signs it in.
//
// Errors: CodeValidation, CodeWeakPassword, CodeCaptchaInvalid,
// CodeOTPInvalid, CodePhoneTaken, CodeUnavailable.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*AuthPayload, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	if err := checkPasswordPolicy("password", in.Password); err != nil {
		return nil, err
	}
	phone, _ := NormalizePhone(in.Telephone)
	// The captcha guards the code, so it goes first; the code is checked
	// before revealing whether the phone is registered.
	if err := s.checkCaptcha(ctx, in.DeviceID, in.Captcha, Consume); err != nil {
		return nil, err
	}
	if err := s.checkCode(ctx, ChannelDealer, phone, in.DeviceID, in.Code, Consume); err != nil {
		return nil, err
	}
	if taken, err := s.db.User.Query().Where(user.Telephone(phone)).Exist(ctx); err != nil {
		return nil, dbError(err)
	} else if taken {
		return nil, E(CodePhoneTaken)
	}
	hash, err := hashPassword(in.Password, s.cfg.Password)
	if err != nil {
		return nil, err
	}
	var auth *AuthPayload
	err = s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
		u, err := db.User.Create().
			SetTelephone(phone).
			SetKind(user.KindDealer).
			SetPasswordHash(hash).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return E(CodePhoneTaken)
		}
		if err != nil {
			return err
		}
		if err := s.record(ctx, db, u.ID, "REGISTERED", ""); err != nil {
			return err
		}
		auth, err = s.startSession(ctx, db, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	auth.User = auth.User.Unwrap()
	return auth, nil
}

// LoginInput signs in with phone and password.
type LoginInput struct {
	Telephone string `json:"telephone" validate:"required,max=32"`
	Password  string `json:"password" validate:"required,max=128"`
}

// Login signs in a dealer or admin. A wrong password and an unknown phone
// cost the same time and give the same error (see checkCredentials).
//
// Errors: CodeValidation, CodeCredentials, CodeRateLimited, CodeUnavailable.
func (s *Service) Login(ctx context.Context, in LoginInput) (*AuthPayload, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	phone, ok := NormalizePhone(in.Telephone)
	if !ok {
		phone = "invalid"
	}
	u, err := s.db.User.Query().Where(user.Telephone(phone)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, dbError(err)
	}
	if err := s.checkCredentials(ctx, phone, u, in.Password); err != nil {
		return nil, err
	}
	auth, err := s.startSession(ctx, s.db, u)
	if err != nil {
		return nil, dbError(err)
	}
	if auth.Certification, err = s.latestCertification(ctx, s.db, u.ID); err != nil {
		return nil, dbError(err)
	}
	return auth, nil
}

// checkCredentials verifies password for u (nil: unknown phone) under the
// failure limits of the phone and the client IP: every attempt is counted
// and a success refunds it, so only failures accumulate. Unknown phones are
// checked against a dummy hash, so they cost the same time.
//
// Errors: CodeCredentials, CodeRateLimited, CodeUnavailable.
func (s *Service) checkCredentials(ctx context.Context, phone string, u *ent.User, password string) error {
	attempt := randomHex(8)
	phoneLimit := Limit{Key: "login:{" + phone + "}:fail", Max: s.cfg.LoginFailures, Window: s.cfg.LoginFailureWindow}
	ipLimit := Limit{Key: "login:{ip:" + RequestFrom(ctx).IP + "}:fail", Max: s.cfg.LoginPerIP, Window: s.cfg.LoginFailureWindow}
	if err := s.take(ctx, attempt, ipLimit); err != nil {
		return err
	}
	if err := s.take(ctx, attempt, phoneLimit); err != nil {
		s.refund(ctx, attempt, ipLimit)
		return err
	}
	hash := s.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	if !checkPassword(password, hash) || u == nil || u.PasswordHash == "" {
		return E(CodeCredentials)
	}
	s.refund(ctx, attempt, ipLimit)
	s.refund(ctx, attempt, phoneLimit)
	return nil
}

// ResetPasswordInput changes a password, proving the old one.
type ResetPasswordInput struct {
	// Telephone names the account (legacy "username"); empty: the caller's.
	Telephone   string `json:"-"`
	OldPassword string `json:"oldPassword" validate:"required,max=128"`
	NewPassword string `json:"newPassword" validate:"required,min=8,max=64"`
}

// ResetPassword sets a new password and signs out the account's other
// sessions; the old phone gets a notice. Wrong old passwords count as failed
// logins.
//
// Errors: CodeValidation, CodeWeakPassword, CodeUnauthenticated,
// CodeForbidden, CodeCredentials, CodeRateLimited, CodeUnavailable.
func (s *Service) ResetPassword(ctx context.Context, in ResetPasswordInput) (bool, error) {
	if err := check(in); err != nil {
		return false, err
	}
	if err := checkPasswordPolicy("newPassword", in.NewPassword); err != nil {
		return false, err
	}
	u, err := s.account(ctx, s.db, in.Telephone)
	if err != nil {
		return false, err
	}
	if err := s.checkCredentials(ctx, u.Telephone, u, in.OldPassword); err != nil {
		return false, err
	}
	hash, err := hashPassword(in.NewPassword, s.cfg.Password)
	if err != nil {
		return false, err
	}
	err = s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
		if err := db.User.UpdateOne(u).SetPasswordHash(hash).Exec(ctx); err != nil {
			return err
		}
		if err := s.revokeSessions(ctx, db, u.ID, s.currentSession(ctx)); err != nil {
			return err
		}
		return s.record(ctx, db, u.ID, "PASSWORD_CHANGED", "")
	})
	if err != nil {
		return false, err
	}
	s.notify(ctx, u.Telephone)
	return true, nil
}

// ChangePhoneInput moves an account to a new phone proven by a dealer-channel
// code sent to it.
type ChangePhoneInput struct {
	// Telephone names the account (legacy "username"); empty: the caller's.
	Telephone    string `json:"-"`
	NewTelephone string `json:"newTelephone" validate:"required,cnmobile"`
	DeviceID     string `json:"deviceId" validate:"required,max=128,printable"`
	Code         string `json:"code" validate:"required,len=6,numeric"`
}

// ChangePhone changes the account's phone and signs out its other sessions;
// the old phone gets a notice.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden, CodeOTPInvalid,
// CodePhoneTaken, CodeUnavailable.
func (s *Service) ChangePhone(ctx context.Context, in ChangePhoneInput) (*ent.User, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	u, err := s.account(ctx, s.db, in.Telephone)
	if err != nil {
		return nil, err
	}
	phone, _ := NormalizePhone(in.NewTelephone)
	if phone == u.Telephone {
		return nil, Ef(CodeValidation, "新手机号与当前手机号相同")
	}
	if err := s.checkCode(ctx, ChannelDealer, phone, in.DeviceID, in.Code, Consume); err != nil {
		return nil, err
	}
	old := u.Telephone
	err = s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
		u, err = db.User.UpdateOne(u).SetTelephone(phone).Save(ctx)
		if ent.IsConstraintError(err) {
			return E(CodePhoneTaken)
		}
		if err != nil {
			return err
		}
		s.accountChanged(ctx, u.ID)
		if err := s.revokeSessions(ctx, db, u.ID, s.currentSession(ctx)); err != nil {
			return err
		}
		return s.record(ctx, db, u.ID, "PHONE_CHANGED", MaskPhone(old)+" -> "+MaskPhone(phone))
	})
	if err != nil {
		return nil, err
	}
	s.notify(ctx, old)
	return u.Unwrap(), nil
}

// UpdateProfileInput sets any of nickname, gender and avatar.
type UpdateProfileInput struct {
	// Telephone names the account (legacy "username"); empty: the caller's.
	Telephone string       `json:"-"`
	NickName  *string      `json:"nickName" validate:"omitempty,max=32,printable"`
	Gender    *user.Gender `json:"gender"`
	// Favicon is the URL (or key) of an avatar this account uploaded.
	Favicon *string `json:"favicon" validate:"omitempty,max=2048"`
}

// UpdateProfile changes profile fields; nil fields stay as they are.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden, CodeNotFound,
// CodeUnavailable.
func (s *Service) UpdateProfile(ctx context.Context, in UpdateProfileInput) (*ent.User, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	if in.Gender != nil {
		if err := user.GenderValidator(*in.Gender); err != nil {
			return nil, Invalid("gender", "性别取值应为 0、1、2、3")
		}
	}
	u, err := s.account(ctx, s.db, in.Telephone)
	if err != nil {
		return nil, err
	}
	upd := s.db.User.UpdateOne(u)
	if in.NickName != nil {
		upd.SetNickName(*in.NickName)
	}
	if in.Gender != nil {
		upd.SetGender(*in.Gender)
	}
	if in.Favicon != nil {
		key := ""
		if *in.Favicon != "" {
			up, err := s.ownUpload(ctx, s.db, u.ID, *in.Favicon, upload.PurposeAvatar)
			if err != nil {
				return nil, notOwnUpload(err, "favicon", "头像必须是本人上传的图片")
			}
			key = up.Key
		}
		upd.SetFavicon(key)
	}
	u, err = upd.Save(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	return u, nil
}

// currentSession names the caller's session (nil without one).
func (s *Service) currentSession(ctx context.Context) []byte {
	if a := ActorFrom(ctx); a != nil {
		return a.tokenHash
	}
	return nil
}

// notify tells the owner of a phone that their account changed. Best
// effort: the change itself has happened.
func (s *Service) notify(ctx context.Context, phone string) {
	if _, fixed := s.testCode(phone); fixed {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.sms.Send(ctx, SMS{Telephone: phone, Purpose: SMSPurposeNotice}); err != nil {
		s.log.WarnContext(ctx, "sending account notice", "phone", MaskPhone(phone), "err", err)
	}
}

// latestCertification is the account's newest submission, or nil.
func (s *Service) latestCertification(ctx context.Context, db *ent.Client, userID int) (*ent.Certification, error) {
	c, err := db.Certification.Query().
		Where(certification.UserID(userID)).
		Order(ent.Desc(certification.FieldSubmittedAt), ent.Desc(certification.FieldID)).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading certification: %w", err)
	}
	return c, nil
}

// EnsureAdmin makes phone an admin account with password, creating it or
// resetting its password (ADMIN_PHONE/ADMIN_PASSWORD at start).
func (s *Service) EnsureAdmin(ctx context.Context, telephone, password string) error {
	phone, ok := NormalizePhone(telephone)
	if !ok {
		return fmt.Errorf("admin phone %q is not a mainland mobile number", telephone)
	}
	if len(password) < 8 || CommonPassword(password) {
		return fmt.Errorf("admin password must have at least 8 characters and not be a common password")
	}
	hash, err := hashPassword(password, s.cfg.Password)
	if err != nil {
		return err
	}
	return s.db.User.Create().
		SetTelephone(phone).
		SetKind(user.KindAdmin).
		SetPasswordHash(hash).
		OnConflictColumns(user.FieldTelephone).
		Update(func(u *ent.UserUpsert) {
			u.SetKind(user.KindAdmin)
			u.SetPasswordHash(hash)
		}).
		Exec(ctx)
}
