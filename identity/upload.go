package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"time"

	_ "golang.org/x/image/webp" // registers WebP decoding

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/upload"
	"github.com/carcity/identity/ent/user"
)

// UploadImageInput is an image sent by a user.
type UploadImageInput struct {
	// Telephone names the account (legacy bodies do); empty: the caller's.
	Telephone string
	Purpose   ImagePurpose
	File      io.Reader
}

// UploadedImage is a stored image and where to fetch it.
type UploadedImage struct {
	ID  int    `json:"id"`
	URL string `json:"url"`
}

// UploadImage checks that the bytes are a JPEG, PNG or WebP image of a sane
// size, re-encodes it (dropping EXIF and GPS metadata) and stores it. ID
// photos are private; avatars are public.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeForbidden,
// CodePayloadTooLarge, CodeInvalidImage, CodeUnavailable.
func (s *Service) UploadImage(ctx context.Context, in UploadImageInput) (*UploadedImage, error) {
	var purpose upload.Purpose
	switch in.Purpose {
	case PurposeAvatar:
		purpose = upload.PurposeAvatar
	case PurposeIDFront:
		purpose = upload.PurposeIDFront
	case PurposeQualification:
		purpose = upload.PurposeQualification
	default:
		return nil, Invalid("purpose", "图片用途不正确")
	}
	var owner *int
	if purpose == upload.PurposeAvatar && in.Telephone == "" && ActorFrom(ctx) == nil && RequestFrom(ctx).Legacy {
		// Legacy clients upload avatars before naming the account; the
		// upload is claimed by editFavicon. Nobody is accountable for it, so
		// the client IP gets a budget.
		limit := Limit{Key: "upload:{ip:" + RequestFrom(ctx).IP + "}:hour", Max: 30, Window: time.Hour}
		if err := s.take(ctx, randomHex(8), limit); err != nil {
			return nil, err
		}
	} else {
		u, err := s.account(ctx, s.db, in.Telephone)
		if err != nil {
			return nil, err
		}
		if purpose != upload.PurposeAvatar && u.Kind != user.KindAgent {
			return nil, Ef(CodeForbidden, "仅代理商可以上传认证照片")
		}
		owner = &u.ID
	}
	data, contentType, err := s.normalizeImage(in.File)
	if err != nil {
		return nil, err
	}
	ext := ".jpg"
	if contentType == "image/png" {
		ext = ".png"
	}
	key := "private/" + strings.ToLower(string(purpose)) + "/" + randomHex(16) + ext
	if purpose == upload.PurposeAvatar {
		key = "public/avatars/" + randomHex(16) + ext
	}
	if err := s.blobs.Put(ctx, key, data, contentType); err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("storing image: %w", err))
	}
	up, err := s.db.Upload.Create().
		SetNillableOwnerID(owner).
		SetKey(key).
		SetPurpose(purpose).
		SetContentType(contentType).
		SetSize(int64(len(data))).
		SetCreatedAt(s.now()).
		Save(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	url, err := s.FileURL(ctx, key)
	if err != nil {
		return nil, err
	}
	return &UploadedImage{ID: up.ID, URL: url}, nil
}

// normalizeImage sniffs, bounds, decodes and re-encodes an image.
func (s *Service) normalizeImage(r io.Reader) ([]byte, string, error) {
	if r == nil {
		return nil, "", Invalid("file", "请选择要上传的图片")
	}
	raw, err := io.ReadAll(io.LimitReader(r, s.cfg.MaxUploadBytes+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, "", E(CodePayloadTooLarge)
		}
		return nil, "", Wrap(CodeValidation, fmt.Errorf("reading upload: %w", err))
	}
	if int64(len(raw)) > s.cfg.MaxUploadBytes {
		return nil, "", Ef(CodePayloadTooLarge, fmt.Sprintf("图片不能超过 %d MB", s.cfg.MaxUploadBytes>>20))
	}
	if len(raw) == 0 {
		return nil, "", Invalid("file", "请选择要上传的图片")
	}
	sniffed := http.DetectContentType(raw)
	if sniffed != "image/jpeg" && sniffed != "image/png" && sniffed != "image/webp" {
		return nil, "", E(CodeInvalidImage)
	}
	// The header alone tells the size: refuse bombs before decoding.
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, "", Ef(CodeInvalidImage, "图片已损坏，无法识别")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > 20000 || cfg.Height > 20000 ||
		cfg.Width*cfg.Height > s.cfg.MaxImagePixels {
		return nil, "", Ef(CodeInvalidImage, "图片尺寸过大")
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, "", Ef(CodeInvalidImage, "图片已损坏，无法识别")
	}
	var out bytes.Buffer
	if sniffed == "image/png" {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img)
	} else {
		sniffed = "image/jpeg"
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		return nil, "", fmt.Errorf("encoding image: %w", err)
	}
	return out.Bytes(), sniffed, nil
}

// ownUpload resolves a URL or key that names an upload of ownerID (or an
// unclaimed avatar, which it claims) with the given purpose. Anything else
// (a foreign URL, another user's upload) is not found.
func (s *Service) ownUpload(ctx context.Context, db *ent.Client, ownerID int, ref string, purpose upload.Purpose) (*ent.Upload, error) {
	key, ok := s.blobs.KeyFromURL(strings.TrimSpace(ref))
	if !ok {
		key = strings.TrimSpace(ref)
	}
	up, err := db.Upload.Query().
		Where(upload.Key(key), upload.PurposeEQ(purpose), upload.Or(upload.OwnerID(ownerID), upload.OwnerIDIsNil())).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, E(CodeNotFound)
	}
	if err != nil {
		return nil, dbError(err)
	}
	if up.OwnerID == nil {
		// Claim it; the owner guard keeps a concurrent claim from winning twice.
		n, err := db.Upload.Update().Where(upload.ID(up.ID), upload.OwnerIDIsNil()).SetOwnerID(ownerID).Save(ctx)
		if err != nil {
			return nil, dbError(err)
		}
		if n == 0 {
			return nil, E(CodeNotFound)
		}
	}
	return up, nil
}

// FileURL is where a client fetches a stored file: permanent for public
// files, short-lived and signed for private ones. An empty key is "".
func (s *Service) FileURL(ctx context.Context, key string) (string, error) {
	if key == "" {
		return "", nil
	}
	base := s.baseURL(ctx)
	var expires time.Time
	if !strings.HasPrefix(key, "public/") {
		expires = s.now().Add(s.cfg.PrivateURLTTL)
	}
	url, err := s.blobs.URL(ctx, base, key, expires)
	if err != nil {
		return "", Wrap(CodeUnavailable, fmt.Errorf("signing url: %w", err))
	}
	return url, nil
}

// baseURL is where clients reach the service.
func (s *Service) baseURL(ctx context.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return RequestFrom(ctx).BaseURL
}

// notOwnUpload turns "no such upload of yours" into a validation error of
// field and passes other failures through.
func notOwnUpload(err error, field, message string) error {
	if CodeOf(err) == CodeNotFound {
		return Invalid(field, message)
	}
	return err
}
