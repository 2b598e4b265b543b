package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
	"certdesk/app/server/blob"
	"certdesk/app/server/store"
)

var reSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func toMaterialInfo(m *store.Material) api.MaterialInfo {
	mi := api.MaterialInfo{ID: m.ID, Type: m.Type, SHA256: m.SHA256, Bytes: m.Bytes, Width: m.Width, Height: m.Height, DPI: m.DPI, UploadedAt: m.UploadedAt}
	_ = json.Unmarshal([]byte(m.Problems), &mi.Problems)
	return mi
}

func rulesOf(a *store.Application) []apply.MaterialRule {
	return apply.Materials(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind))
}

func present(ms []*store.Material) map[apply.MaterialType]bool {
	p := map[apply.MaterialType]bool{}
	for _, m := range ms {
		p[m.Type] = true
	}
	return p
}

func (s *Service) missing(ctx context.Context, tx *store.Tx, a *store.Application) ([]apply.MaterialType, error) {
	ms, err := tx.Materials(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return apply.MissingMaterials(rulesOf(a), present(ms)), nil
}

// advance moves an application between submitted and materials_complete as
// its materials (or the options that decide them) change.
func (s *Service) advance(ctx context.Context, tx *store.Tx, a *store.Application) error {
	if a.State != apply.StateSubmitted && a.State != apply.StateMaterialsComplete {
		return nil
	}
	missing, err := s.missing(ctx, tx, a)
	if err != nil {
		return err
	}
	switch {
	case a.State == apply.StateSubmitted && len(missing) == 0:
		return s.step(ctx, tx, a, apply.EvMaterialsComplete, apply.ActorSystem, "system", "")
	case a.State == apply.StateMaterialsComplete && len(missing) > 0:
		return s.step(ctx, tx, a, apply.EvMaterialsIncomplete, apply.ActorSystem, "system", "missing "+joinTypes(missing))
	}
	return nil
}

func joinTypes(ts []apply.MaterialType) string {
	ss := make([]string, len(ts))
	for i, t := range ts {
		ss[i] = string(t)
	}
	return strings.Join(ss, ",")
}

func (s *Service) dropMaterialsOfType(ctx context.Context, tx *store.Tx, appID string, t apply.MaterialType) error {
	ms, err := tx.Materials(ctx, appID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Type == t {
			if err := tx.DeleteMaterial(ctx, appID, m.ID, s.now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Checklist is the materials step: each rule in the seed's order with what
// is uploaded for it, what is missing, and the paper documents to post.
func (s *Service) Checklist(ctx context.Context, p Principal, id string) (*api.Checklist, error) {
	a, err := s.loadOwned(ctx, nil, p, id)
	if err != nil {
		return nil, s.internal(ctx, "checklist", err)
	}
	ms, err := s.st.Materials(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "checklist", err)
	}
	rj, err := s.rejections(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "checklist", err)
	}
	rules := rulesOf(a)
	have := present(ms)
	out := &api.Checklist{Missing: apply.MissingMaterials(rules, have), Paper: apply.PaperMaterials(a.Kind, a.Form.HandlerIsApplicant(a.Kind))}
	for _, r := range rules {
		it := api.ChecklistItem{Rule: r, Materials: []api.MaterialInfo{}}
		for _, m := range ms {
			if m.Type == r.Type {
				it.Materials = append(it.Materials, toMaterialInfo(m))
			}
		}
		withRejections(rj, it.Materials)
		it.Satisfied = len(it.Materials) > 0 || !r.Required || (r.SameAs != "" && have[r.SameAs])
		out.Items = append(out.Items, it)
	}
	out.Complete = len(out.Missing) == 0
	return out, nil
}

func materialField(t apply.MaterialType, zh, en string, code apply.Code) *api.Error {
	return api.ValidationError(apply.FieldErrors{{Field: string(t), Code: code, Message: apply.Text{ZH: zh, EN: en}}})
}

// CreateUpload opens a resumable upload of one material. Everything that
// can be refused before a byte is sent is refused here: the type, the
// state, the announced size.
func (s *Service) CreateUpload(ctx context.Context, p Principal, appID string, req api.CreateUploadRequest, idemKey string) (*api.Upload, error) {
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "create upload", err)
	}
	if p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if !apply.CanReplaceMaterials(a.State) {
		return nil, materialsClosed(a.State)
	}
	rule, ok := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), req.Type)
	if !ok {
		return nil, materialField(req.Type, "本申请不需要这种材料", "This application does not take this kind of material", apply.CodeChoice)
	}
	if req.Bytes <= 0 {
		return nil, materialField(req.Type, "文件是空的", "The file is empty", material.PEmpty)
	}
	if req.Bytes > rule.MaxBytes {
		e := api.NewError(api.CodeTooLarge).WithMessage(apply.Text{ZH: "文件超过 2 MB,请先用“一键修复”压缩", EN: "The file is over 2 MB; compress it with Fix first"})
		return nil, e
	}
	sum := strings.ToLower(req.SHA256)
	if !reSHA256.MatchString(sum) {
		return nil, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "缺少文件校验值", EN: "The file's SHA-256 is missing or malformed"})
	}
	if req.Replace != "" {
		if _, err := s.st.Material(ctx, appID, req.Replace); err != nil {
			return nil, api.NewError(api.CodeNotFound)
		}
	}
	if req.Type == apply.MatSpare && req.Replace == "" {
		ms, err := s.st.Materials(ctx, appID)
		if err != nil {
			return nil, s.internal(ctx, "create upload", err)
		}
		n := 0
		for _, m := range ms {
			if m.Type == apply.MatSpare {
				n++
			}
		}
		if n >= apply.MaxSpares {
			return nil, materialField(req.Type, "备用材料最多 3 份", "At most 3 additional materials", apply.CodeTooLong)
		}
	}
	out, err := idempotent(ctx, s, p, idemKey, req, func(tx *store.Tx) (*api.Upload, error) {
		now := s.now()
		u := &store.Upload{ID: store.NewID(), ApplicationID: appID, AccountID: p.AccountID, Type: req.Type, FileName: baseName(req.FileName),
			Bytes: req.Bytes, SHA256: sum, ReplaceID: req.Replace, CreatedAt: now, ExpiresAt: now.Add(s.cfg.UploadTTL)}
		if err := tx.CreateUpload(ctx, u); err != nil {
			return nil, err
		}
		return &api.Upload{ID: u.ID, Offset: 0, Bytes: u.Bytes, ExpiresAt: u.ExpiresAt}, nil
	})
	if err != nil {
		return nil, s.internal(ctx, "create upload", err)
	}
	return out, nil
}

func baseName(n string) string {
	n = strings.ReplaceAll(n, "\\", "/")
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

func (s *Service) ownedUpload(ctx context.Context, p Principal, uid string) (*store.Upload, error) {
	u, err := s.st.Upload(ctx, uid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != p.AccountID) {
		return nil, api.NewError(api.CodeNotFound)
	}
	if err != nil {
		return nil, s.internal(ctx, "upload", err)
	}
	return u, nil
}

// UploadStatus is where an upload stands (HEAD): the client resumes from
// Offset after a dropped connection or a restart.
func (s *Service) UploadStatus(ctx context.Context, p Principal, uid string) (*api.Upload, error) {
	u, err := s.ownedUpload(ctx, p, uid)
	if err != nil {
		return nil, err
	}
	return s.uploadView(ctx, u)
}

func (s *Service) uploadView(ctx context.Context, u *store.Upload) (*api.Upload, error) {
	out := &api.Upload{ID: u.ID, Bytes: u.Bytes, ExpiresAt: u.ExpiresAt}
	if u.MaterialID != "" {
		out.Offset = u.Bytes
		m, err := s.st.Material(ctx, u.ApplicationID, u.MaterialID)
		if err == nil {
			mi := toMaterialInfo(m)
			out.Material = &mi
		}
		return out, nil
	}
	n, err := s.blobs.PartSize(ctx, u.ID)
	if err != nil {
		return nil, s.internal(ctx, "upload offset", err)
	}
	out.Offset = n
	return out, nil
}

// AppendUpload adds bytes at offset. When the last byte arrives the file
// is checked against its SHA-256, inspected with app/material exactly as
// the client did, stored by content, and recorded; the application moves
// to materials_complete by itself when that was the last one missing.
func (s *Service) AppendUpload(ctx context.Context, p Principal, uid string, offset int64, body io.Reader) (*api.Upload, error) {
	u, err := s.ownedUpload(ctx, p, uid)
	if err != nil {
		return nil, err
	}
	if u.MaterialID != "" {
		return s.uploadView(ctx, u) // a retry of the final request: already done
	}
	if s.now().After(u.ExpiresAt) {
		return nil, api.NewError(api.CodeNotFound).WithMessage(apply.Text{ZH: "上传已过期,请重新选择文件上传", EN: "The upload expired; choose the file and upload it again"})
	}
	// A file sent whole in one request (the usual case) stays in memory for
	// the inspection instead of being read back from disk.
	var whole *bytes.Buffer
	if offset == 0 {
		whole = s.buffer(u.Bytes)
		defer s.bufs.Put(whole)
	}
	size, err := s.blobs.Append(ctx, u.ID, offset, u.Bytes, body, whole)
	// The request's context dies with a dropped connection; the record of
	// what arrived must still be written.
	keep := context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, blob.ErrOffset):
		e := api.NewError(api.CodeUploadOffset)
		return &api.Upload{ID: u.ID, Offset: size, Bytes: u.Bytes}, e
	case errors.Is(err, blob.ErrTooLarge):
		s.blobs.Discard(ctx, u.ID)
		return nil, api.NewError(api.CodeTooLarge)
	case err != nil:
		// The connection dropped: what arrived is kept for the resume.
		_ = s.st.SetUploadReceived(keep, u.ID, size)
		return nil, s.internal(ctx, "receive upload", err)
	}
	if size < u.Bytes {
		_ = s.st.SetUploadReceived(keep, u.ID, size)
		return &api.Upload{ID: u.ID, Offset: size, Bytes: u.Bytes, ExpiresAt: u.ExpiresAt}, nil
	}
	// Complete: finishUpload's transaction records it (CompleteUpload).
	var kept []byte
	if whole != nil && int64(whole.Len()) == u.Bytes {
		kept = whole.Bytes()
	}
	return s.finishUpload(ctx, p, u, kept)
}

// buffer returns an empty buffer from the pool that holds n bytes without
// growing (ReadFrom wants room to spare at the end). Reusing them spares a
// fresh megabyte, and its page faults, per upload; they are the blob
// store's aligned buffers, which it writes to disk without a copy.
func (s *Service) buffer(n int64) *bytes.Buffer {
	b, _ := s.bufs.Get().(*bytes.Buffer)
	if b == nil || b.Cap() < int(n)+bytes.MinRead {
		return blob.NewBuffer(int(n) + bytes.MinRead)
	}
	b.Reset()
	return b
}

// finishUpload checks and records a complete upload; data is its content
// when already in memory, else nil.
func (s *Service) finishUpload(ctx context.Context, p Principal, u *store.Upload, data []byte) (*api.Upload, error) {
	data, err := s.blobs.Complete(ctx, u.ID, u.SHA256, data)
	if errors.Is(err, blob.ErrDigest) {
		return nil, api.NewError(api.CodeMaterialInvalid).WithMessage(apply.Text{ZH: "文件在上传中损坏(校验值不符),请重新上传", EN: "The file was damaged in transit (SHA-256 mismatch); upload it again"})
	}
	if err != nil {
		return nil, s.internal(ctx, "finish upload", err)
	}
	// Inspect outside the transaction: a full decode takes tens of
	// milliseconds and must not hold SQLite's write lock.
	a0, err := s.loadOwned(ctx, nil, p, u.ApplicationID)
	if err != nil {
		return nil, s.internal(ctx, "finish upload", err)
	}
	rule, ok := apply.RuleFor(a0.Kind, a0.Form.Options(), a0.Form.HandlerIsApplicant(a0.Kind), u.Type)
	if !ok {
		s.blobs.Discard(ctx, u.ID)
		return nil, materialField(u.Type, "本申请不需要这种材料", "This application does not take this kind of material", apply.CodeChoice)
	}
	v := material.CheckBytes(data, rule)
	if !v.OK() {
		// Refused: the part is dropped, never stored as a blob.
		s.blobs.Discard(ctx, u.ID)
		return nil, materialError(v)
	}
	// Stored before the material row that names it is committed: a crash
	// between the two leaves a blob without a row, never a row without
	// its file. (A transaction refused below, the state having moved on
	// during the upload, leaves such a blob too: rare, and not removed,
	// because an identical file accepted meanwhile may share it.)
	if err := s.blobs.Keep(ctx, u.ID, u.SHA256, data); err != nil {
		return nil, s.internal(ctx, "store blob", err)
	}
	var mat *store.Material
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := s.loadOwned(ctx, tx, p, u.ApplicationID)
		if err != nil {
			return err
		}
		if !apply.CanReplaceMaterials(a.State) {
			return materialsClosed(a.State)
		}
		if again, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), u.Type); again != rule {
			return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "申请表在上传期间被修改,请重新上传该材料", EN: "The form changed during the upload; upload this material again"})
		}
		// What is left once OK are warnings: kept for the reviewer.
		pj, _ := json.Marshal(v.Problems)
		if v.Problems == nil {
			pj = []byte("[]")
		}
		mat = &store.Material{ID: store.NewID(), ApplicationID: a.ID, Type: u.Type, SHA256: u.SHA256, Bytes: int64(len(data)),
			Width: v.Info.Width, Height: v.Info.Height, DPI: v.Info.DPI, Problems: string(pj), FileName: u.FileName, UploadedAt: s.now()}
		if err := tx.AddMaterial(ctx, mat); err != nil {
			return err
		}
		if u.ReplaceID != "" {
			if err := tx.DeleteMaterial(ctx, a.ID, u.ReplaceID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		} else if u.Type != apply.MatSpare {
			// One material per type: a new upload replaces the old one.
			ms, err := tx.Materials(ctx, a.ID)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if m.Type == u.Type && m.ID != mat.ID {
					if err := tx.DeleteMaterial(ctx, a.ID, m.ID, s.now()); err != nil {
						return err
					}
				}
			}
		}
		if err := tx.CompleteUpload(ctx, u.ID, mat.ID); err != nil {
			return err
		}
		return s.advance(ctx, tx, a)
	})
	if err != nil {
		return nil, s.internal(ctx, "record material", err)
	}
	mi := toMaterialInfo(mat)
	return &api.Upload{ID: u.ID, Offset: u.Bytes, Bytes: u.Bytes, ExpiresAt: u.ExpiresAt, Material: &mi}, nil
}

// materialError carries each error-level problem as a field error named by
// its problem code, in both languages, with the fix hint.
func materialError(v material.Verdict) *api.Error {
	e := api.NewError(api.CodeMaterialInvalid)
	for _, pr := range v.Problems {
		if pr.Severity != material.Error {
			continue
		}
		e.Fields = append(e.Fields, api.FieldError{Field: string(v.Rule.Type), Code: pr.Code,
			MessageZH: pr.Message.ZH + ";" + pr.Hint.ZH, MessageEN: pr.Message.EN + "; " + pr.Hint.EN})
	}
	return e
}

// MaterialData opens a material's bytes for viewing (查看材料数据).
func (s *Service) MaterialData(ctx context.Context, p Principal, appID, mid string) (*api.MaterialInfo, io.ReadSeekCloser, error) {
	if _, err := s.loadOwned(ctx, nil, p, appID); err != nil {
		return nil, nil, s.internal(ctx, "material", err)
	}
	m, err := s.st.Material(ctx, appID, mid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, api.NewError(api.CodeNotFound)
	}
	if err != nil {
		return nil, nil, s.internal(ctx, "material", err)
	}
	f, err := s.blobs.Open(ctx, m.SHA256)
	if err != nil {
		return nil, nil, s.internal(ctx, "open blob", err)
	}
	mi := toMaterialInfo(m)
	return &mi, f, nil
}

// Material returns one material's record.
func (s *Service) Material(ctx context.Context, p Principal, appID, mid string) (*api.MaterialInfo, error) {
	mi, f, err := s.MaterialData(ctx, p, appID, mid)
	if f != nil {
		f.Close()
	}
	return mi, err
}

// DeleteMaterial removes a material (删除) until review; the application
// falls back to submitted when a required one goes.
func (s *Service) DeleteMaterial(ctx context.Context, p Principal, appID, mid string) error {
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := s.loadOwned(ctx, tx, p, appID)
		if err != nil {
			return err
		}
		if p.Staff() {
			return api.NewError(api.CodeForbidden)
		}
		if !apply.CanReplaceMaterials(a.State) {
			return materialsClosed(a.State)
		}
		if err := tx.DeleteMaterial(ctx, appID, mid, s.now()); errors.Is(err, store.ErrNotFound) {
			return api.NewError(api.CodeNotFound)
		} else if err != nil {
			return err
		}
		return s.advance(ctx, tx, a)
	})
	if err != nil {
		return s.internal(ctx, "delete material", err)
	}
	return nil
}

// materialsClosed is the refusal of a material change in state st, giving
// the real reason: a cancelled application was told it was under review.
func materialsClosed(st apply.State) *api.Error {
	t := apply.Text{ZH: "申请已进入审核,不能再更改材料", EN: "The application is under review: materials can no longer change"}
	switch st {
	case apply.StateCancelled:
		t = apply.Text{ZH: "申请已取消,不能再上传或更改材料", EN: "The application was cancelled: materials can no longer be uploaded or changed"}
	case apply.StateApproved, apply.StateIssued, apply.StateRevoked:
		t = apply.Text{ZH: "申请已办结,不能再更改材料", EN: "The application is complete: materials can no longer change"}
	}
	return api.NewError(api.CodeStateNotAllowed).WithMessage(t)
}
