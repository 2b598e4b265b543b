package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"testing"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
	"certdesk/app/server/service"
)

type spec struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

// The Go type behind each component schema.
var schemaTypes = map[string]any{
	"Text": apply.Text{}, "FieldError": api.FieldError{}, "Error": api.Error{},
	"RegisterRequest": api.RegisterRequest{}, "LoginRequest": api.LoginRequest{}, "Account": api.Account{},
	"Session": api.Session{}, "Agreement": api.Agreement{}, "AgreementAcceptance": api.AgreementAcceptance{},
	"FeeItem": apply.FeeItem{}, "Schedule": apply.Schedule{}, "Quote": apply.Quote{}, "HistoryEntry": apply.HistoryEntry{},
	"Problem": material.Problem{}, "MaterialInfo": api.MaterialInfo{}, "MaterialReturn": api.MaterialReturn{}, "MaterialRejection": api.MaterialRejection{}, "MaterialRule": apply.MaterialRule{},
	"PaperMaterial": apply.PaperMaterial{}, "ChecklistItem": api.ChecklistItem{}, "Checklist": api.Checklist{},
	"CreateApplicationRequest": api.CreateApplicationRequest{}, "UpdateFormRequest": api.UpdateFormRequest{},
	"EventRequest": api.EventRequest{}, "Application": api.Application{}, "Summary": api.Summary{},
	"CreateUploadRequest": api.CreateUploadRequest{}, "Upload": api.Upload{}, "ReviewRequest": api.ReviewRequest{},
	"Nonce": api.Nonce{}, "UKEYLoginRequest": api.UKEYLoginRequest{}, "DownloadRequest": api.DownloadRequest{},
	"CertificateBundle": api.CertificateBundle{}, "RevokeRequest": api.RevokeRequest{},
	"IdentityCallback": service.IdentityCallback{}, "IdentitySession": api.IdentitySession{},
	"StartPaymentRequest": api.StartPaymentRequest{}, "RenewRequest": api.RenewRequest{}, "BankAccount": api.BankAccount{}, "Payment": api.Payment{},
	"CertificateStatus": api.CertificateStatus{}, "HolderRevokeRequest": api.HolderRevokeRequest{}, "HolderRevocation": api.HolderRevocation{},
	"StartUnlockRequest": api.StartUnlockRequest{}, "Unlock": api.Unlock{}, "UnlockCodeRequest": api.UnlockCodeRequest{}, "UnlockGrant": api.UnlockGrant{},
	"UnlockDoneRequest": api.UnlockDoneRequest{}, "AuditEntry": api.AuditEntry{}, "Renewal": api.Renewal{},
}

func jsonFields(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name := strings.Split(tag, ",")[0]
		if name == "-" || !t.Field(i).IsExported() {
			continue
		}
		if name == "" {
			name = t.Field(i).Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDescribesEveryRouteAndType(t *testing.T) {
	var s spec
	if err := json.Unmarshal(api.OpenAPI, &s); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	h := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	described := 0
	for _, ops := range s.Paths {
		described += len(ops)
	}
	for _, r := range h.Routes() {
		ops, ok := s.Paths[r.Path]
		if !ok {
			t.Errorf("route %s %s: path not in openapi.json", r.Method, r.Path)
			continue
		}
		if _, ok := ops[strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s: method not in openapi.json", r.Method, r.Path)
		}
	}
	if described != len(h.Routes()) {
		t.Errorf("openapi.json describes %d operations, the server has %d routes", described, len(h.Routes()))
	}
	for name, sch := range s.Components.Schemas {
		typ, ok := schemaTypes[name]
		if !ok {
			t.Errorf("schema %s has no Go type in this test", name)
			continue
		}
		var props []string
		for p := range sch.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		if got, want := strings.Join(props, ","), strings.Join(jsonFields(typ), ","); got != want {
			t.Errorf("schema %s properties\n  spec: %s\n  Go:   %s", name, got, want)
		}
	}
	// Every $ref resolves.
	for _, ref := range strings.Split(string(api.OpenAPI), `"$ref": "#/components/schemas/`)[1:] {
		name := ref[:strings.IndexByte(ref, '"')]
		if _, ok := s.Components.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", name)
		}
	}
}
