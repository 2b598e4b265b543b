package api

import "time"

// Routes of the holder's tools after issuance.
const (
	PathCertStatus       = "/certificates/{serial}"          // GET: public status of a certificate
	PathHolderRevoke     = "/applications/{id}/revocation"   // POST: the holder revokes (lost, compromised)
	PathUKEYUnlocks      = "/ukeys/{serial}/unlocks"         // POST: start unlocking a locked PIN
	PathUnlock           = "/unlocks/{unlock}"               // GET
	PathUnlockCode       = "/unlocks/{unlock}/code"          // POST the SMS code
	PathUnlockGrant      = "/unlocks/{unlock}/grant"         // POST: the SO PINs, once
	PathUnlockDone       = "/unlocks/{unlock}/done"          // POST: the PIN is reset, the SO PIN rotated
	PathAudit            = "/accounts/me/audit"              // GET the account's audit history
	PathStaffUnlocks     = "/staff/unlocks"                  // GET unlocks awaiting approval
	PathStaffUnlockApprv = "/staff/unlocks/{unlock}/approve" // POST
	PathRenewals         = "/accounts/me/renewals"           // GET certificates due for renewal
)

// CertStatus values.
const (
	CertValid    = "valid"
	CertExpiring = "expiring" // within 90 days of its end: renew
	CertExpired  = "expired"
	CertRevoked  = "revoked"
	CertUnknown  = "unknown" // not issued by this CA
)

// CertificateStatus is what the CA says of one certificate.
type CertificateStatus struct {
	Serial       string    `json:"serial"`
	Status       string    `json:"status"`
	NotAfter     time.Time `json:"not_after,omitempty"`
	RevokedAt    time.Time `json:"revoked_at,omitempty"`
	RevokeReason int       `json:"revoke_reason,omitempty"`
}

// HolderRevokeRequest revokes the holder's own certificate: the security
// answer proves who asks; Reason is "lost", "compromised" or "ceased";
// Replace also starts a replacement application (补办) with the old data.
type HolderRevokeRequest struct {
	SecurityAnswer string `json:"security_answer"`
	Reason         string `json:"reason"`
	Replace        bool   `json:"replace,omitempty"`
}

// HolderRevocation is the revoked application and, when asked for, its
// replacement.
type HolderRevocation struct {
	Revoked     *Application `json:"revoked"`
	Replacement *Application `json:"replacement,omitempty"`
}

// StartUnlockRequest proves who asks to unlock a UKEY's PIN: the login
// password or the security answer (one is enough; an SMS code follows).
// Certificate is the one read from the UKEY (DER), which must be the
// account's.
type StartUnlockRequest struct {
	Password       string `json:"password,omitempty"`
	SecurityAnswer string `json:"security_answer,omitempty"`
	Certificate    []byte `json:"certificate"`
}

// Unlock states.
const (
	UnlockCodeSent = "code_sent"         // SMS code sent to the handler's mobile
	UnlockApproval = "awaiting_approval" // the CA's staff must approve
	UnlockGranted  = "granted"           // the grant may be taken, once
	UnlockReleased = "released"          // the grant was taken
	UnlockDone     = "done"              // PIN reset, SO PIN rotated
	UnlockLocked   = "locked"            // 5 wrong codes
	UnlockExpired  = "expired"
)

// Unlock is an unlock request as the holder sees it: never a PIN.
type Unlock struct {
	ID        string    `json:"id"`
	Serial    string    `json:"serial"`
	State     string    `json:"state"`
	Mobile    string    `json:"mobile"` // masked: 138****0000
	ExpiresAt time.Time `json:"expires_at"`
	TriesLeft int       `json:"tries_left"`
}

// UnlockCodeRequest is the SMS code.
type UnlockCodeRequest struct {
	Code string `json:"code"`
}

// UnlockGrant is the one response that carries SO PINs: the token holds
// one of SOPINs (the first, unless an earlier unlock rotated it without
// saying so); NewSOPIN is what to set after the user PIN is reset.
type UnlockGrant struct {
	SOPINs    []string  `json:"so_pins"`
	NewSOPIN  string    `json:"new_so_pin"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UnlockDoneRequest says how far the client got: Rotated when the token's
// SO PIN is now NewSOPIN; SOPINIndex is which of SOPINs logged in.
type UnlockDoneRequest struct {
	Rotated    bool `json:"rotated"`
	SOPINIndex int  `json:"so_pin_index"`
}

// AuditEntry is one event of an account's audit history.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// Renewal is a certificate of the account within 90 days of its end.
type Renewal struct {
	ApplicationID string    `json:"application_id"`
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"not_after"`
	DaysLeft      int       `json:"days_left"`
	Successor     string    `json:"successor,omitempty"` // a renewal under way
}
