package api

import (
	"time"

	"certdesk/app/apply"
	"certdesk/app/material"
)

// Endpoints, relative to Prefix. {id} is an application ID, {mid} a
// material ID, {uid} an upload ID.
const (
	PathRegister         = "/accounts"
	PathLogin            = "/sessions"
	PathLogout           = "/sessions/current"
	PathMe               = "/accounts/me"
	PathAgreement        = "/agreement"         // current agreement text and version
	PathApplications     = "/applications"      // POST create, GET list mine
	PathApplication      = "/applications/{id}" // GET, PATCH form, DELETE = cancel
	PathSimilar          = "/applications/{id}/similar"
	PathEvents           = "/applications/{id}/events" // POST a state-machine event
	PathChecklist        = "/applications/{id}/materials"
	PathMaterial         = "/applications/{id}/materials/{mid}"
	PathMaterialData     = "/applications/{id}/materials/{mid}/data"
	PathUploads          = "/applications/{id}/uploads" // POST create a resumable upload
	PathUpload           = "/uploads/{uid}"             // HEAD offset, PATCH append
	PathIdentity         = "/applications/{id}/identity"
	PathPayment          = "/applications/{id}/payment"
	PathDownload         = "/applications/{id}/certificate"
	PathRenew            = "/applications/{id}/renew"
	PathReplace          = "/applications/{id}/replace"
	PathLoginNonce       = "/sessions/nonce" // UKEY login challenge
	PathUKEYLogin        = "/sessions/ukey"
	PathPayNotify        = "/payment/notify"        // the provider's asynchronous notify
	PathWeChatNotify     = "/payment/wechat/notify" // WeChat Pay's notify (API v3: signed JSON, encrypted resource)
	PathIdentityCallback = "/identity/callback"     // the face-ID provider's signed result
	HeaderSignature      = "X-Signature"
	PathCRL              = "/crl"
	PathStaffReview      = "/staff/applications"
	PathFeeSchedule      = "/fees"
	HeaderIdempotency    = "Idempotency-Key"
	HeaderUploadOff      = "Upload-Offset"
	HeaderUploadLen      = "Upload-Length"
)

// Role of an account.
type Role string

const (
	RoleApplicant Role = "applicant"
	RoleStaff     Role = "staff"
)

// StaffRole is one of a staff member's duties (a member may have several).
type StaffRole string

const (
	StaffReviewer StaffRole = "reviewer" // 审核: review, reject, approve, revoke
	StaffFinance  StaffRole = "finance"  // 财务: confirm bank transfers
	StaffAdmin    StaffRole = "admin"    // 管理员: the UKEY stock and its unlocks
)

// StaffRoles are every staff duty.
var StaffRoles = []StaffRole{StaffReviewer, StaffFinance, StaffAdmin}

// RegisterRequest creates an applicant account. Either Mobile or Email (or
// both) becomes a login name (seed 1.1).
type RegisterRequest struct {
	Mobile   string `json:"mobile,omitempty"`
	Email    string `json:"email,omitempty"`
	Password string `json:"password"`
}

// LoginRequest logs in with a mobile or an email and the password.
type LoginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	// TOTP is the authenticator app's current code: required for staff.
	TOTP string `json:"totp,omitempty"`
}

// UKEYLoginRequest answers a nonce with a signature made on the token.
type UKEYLoginRequest struct {
	Nonce       string `json:"nonce"`
	Certificate []byte `json:"certificate"` // DER
	Signature   []byte `json:"signature"`
}

// LoginMessage is what a UKEY signs to log in (SHA-256, then the key's
// signature scheme): a fixed prefix and the nonce, so that a login
// signature can never be mistaken for a document one.
func LoginMessage(nonce string) []byte { return []byte("CertDesk UKEY login\n" + nonce) }

// Nonce is a UKEY login challenge.
type Nonce struct {
	Nonce     string    `json:"nonce"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Account is a user as the API shows it.
type Account struct {
	ID        string    `json:"id"`
	Mobile    string    `json:"mobile,omitempty"`
	Email     string    `json:"email,omitempty"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is the result of a login. The token goes to the OS keyring.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Account   Account   `json:"account"`
}

// Agreement is the service agreement the applicant accepts first.
type Agreement struct {
	Version string `json:"version"`
	Title   string `json:"title"`
	Text    string `json:"text"`
}

// AgreementAcceptance records which agreement was accepted, and when.
type AgreementAcceptance struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
}

// CreateApplicationRequest starts an application (a draft).
type CreateApplicationRequest struct {
	Kind      apply.Kind          `json:"kind"`
	Agreement AgreementAcceptance `json:"agreement"`
	Form      apply.Values        `json:"form,omitempty"`
}

// UpdateFormRequest replaces the form values (修改证书申请). Submit moves a
// draft to submitted once the form validates.
type UpdateFormRequest struct {
	Form   apply.Values `json:"form"`
	Submit bool         `json:"submit,omitempty"`
}

// EventRequest asks for a state-machine step (cancel, start_payment, …).
type EventRequest struct {
	Event apply.Event `json:"event"`
	Note  string      `json:"note,omitempty"`
}

// Application is one application in full. The security answer is never
// sent back: Form holds "security_answer_set": "true" in its place.
type Application struct {
	ID           string               `json:"id"`
	Kind         apply.Kind           `json:"kind"`
	State        apply.State          `json:"state"`
	Form         apply.Values         `json:"form"`
	Agreement    AgreementAcceptance  `json:"agreement"`
	Fee          apply.Quote          `json:"fee"`
	RejectReason string               `json:"reject_reason,omitempty"`
	History      []apply.HistoryEntry `json:"history"`
	Materials    []MaterialInfo       `json:"materials"`
	NextAction   apply.Text           `json:"next_action"`
	CreatedAt    time.Time            `json:"created_at"`
	UpdatedAt    time.Time            `json:"updated_at"`
	// Renews is the application this one renews (Renewal) or replaces.
	Renews  string `json:"renews,omitempty"`
	Renewal bool   `json:"renewal,omitempty"`
}

// Summary is a row of the user center (用户中心).
type Summary struct {
	ID         string      `json:"id"`
	Kind       apply.Kind  `json:"kind"`
	Subject    string      `json:"subject"` // 主体名称: organisation or applicant
	Username   string      `json:"username"`
	State      apply.State `json:"state"`
	NextAction apply.Text  `json:"next_action"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	CertSerial string      `json:"cert_serial,omitempty"` // issued or revoked: the certificate's serial (hex)
}

// MaterialInfo is one stored material.
type MaterialInfo struct {
	ID         string             `json:"id"`
	Type       apply.MaterialType `json:"type"`
	SHA256     string             `json:"sha256"`
	Bytes      int64              `json:"bytes"`
	Width      int                `json:"width"`
	Height     int                `json:"height"`
	DPI        float64            `json:"dpi"`
	Problems   []material.Problem `json:"problems,omitempty"` // warnings only: errors are refused
	UploadedAt time.Time          `json:"uploaded_at"`
	// Rejection is a reviewer's return of this file: replace it, then
	// submit again.
	Rejection *MaterialRejection `json:"rejection,omitempty"`
}

// MaterialRejection is why a reviewer returned a material: one of the
// CA's reasons and the reviewer's words.
type MaterialRejection struct {
	Code   string     `json:"code"`
	Reason apply.Text `json:"reason"`
	Note   string     `json:"note,omitempty"`
	At     time.Time  `json:"at"`
}

// MaterialReturn is a reviewer returning one material.
type MaterialReturn struct {
	MaterialID string `json:"material_id"`
	Code       string `json:"code"`           // from the CA's reasons (GET /staff/reasons)
	Note       string `json:"note,omitempty"` // free text, shown to the applicant
}

// RejectReason is one entry of the CA's list of reasons.
type RejectReason struct {
	Code         string             `json:"code"`
	Text         apply.Text         `json:"text"`
	MaterialType apply.MaterialType `json:"material_type,omitempty"`
}

// ChecklistItem is one line of the materials step: the rule, and what is
// uploaded for it.
type ChecklistItem struct {
	Rule      apply.MaterialRule `json:"rule"`
	Materials []MaterialInfo     `json:"materials"`
	Satisfied bool               `json:"satisfied"`
}

// Checklist is the materials step of an application.
type Checklist struct {
	Items    []ChecklistItem       `json:"items"`
	Missing  []apply.MaterialType  `json:"missing"`
	Paper    []apply.PaperMaterial `json:"paper"`
	Complete bool                  `json:"complete"`
}

// CreateUploadRequest opens a resumable upload of one material. SHA256 of
// the whole file lets the server verify the assembled bytes.
type CreateUploadRequest struct {
	Type     apply.MaterialType `json:"type"`
	FileName string             `json:"file_name"`
	Bytes    int64              `json:"bytes"`
	SHA256   string             `json:"sha256"`
	Replace  string             `json:"replace,omitempty"` // material ID to replace
}

// Upload is the server's view of a resumable upload.
type Upload struct {
	ID        string        `json:"id"`
	Offset    int64         `json:"offset"`
	Bytes     int64         `json:"bytes"`
	ExpiresAt time.Time     `json:"expires_at"`
	Material  *MaterialInfo `json:"material,omitempty"` // set once complete and accepted
}

// IdentitySession is a face-ID verification in progress.
type IdentitySession struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"` // pending, passed, failed, expired
	AppQR       string    `json:"app_qr"` // download the verification app
	VerifyQR    string    `json:"verify_qr"`
	ExpiresAt   time.Time `json:"expires_at"`
	AttemptsMax int       `json:"attempts_max"`
	Attempts    int       `json:"attempts"`
	Reason      string    `json:"reason,omitempty"`
}

// StartPaymentRequest chooses how to pay.
type StartPaymentRequest struct {
	Method PaymentMethod `json:"method"`
}

// PaymentMethod is how the fee is paid.
type PaymentMethod string

const (
	PayBankTransfer PaymentMethod = "bank_transfer" // 转账电汇
	PayOnline       PaymentMethod = "online"        // 在线支付: Alipay (支付宝当面付)
	PayWeChat       PaymentMethod = "wechat"        // 微信支付 (Native)
)

// BankAccount is the CA's account for transfers.
type BankAccount struct {
	Name    string `json:"name"`    // 户名
	Number  string `json:"number"`  // 账号
	Bank    string `json:"bank"`    // 开户行
	Comment string `json:"comment"` // what to write in the transfer note
}

// Payment and identity-session statuses, as the wire and the stores write
// them: compared through these names, never as bare strings.
const (
	PaymentPending = "pending"
	PaymentPaid    = "paid"
	PaymentClosed  = "closed"

	IdentityPending = "pending"
	IdentityPassed  = "passed"
	IdentityFailed  = "failed"
	IdentityExpired = "expired"
)

// Payment is the payment step of an application.
type Payment struct {
	// Methods are the ways this server takes payment now.
	Methods   []PaymentMethod `json:"methods"`
	Method    PaymentMethod   `json:"method,omitempty"`
	Quote     apply.Quote     `json:"quote"`
	Bank      *BankAccount    `json:"bank,omitempty"`
	OrderID   string          `json:"order_id,omitempty"`
	QR        string          `json:"qr,omitempty"` // online payment QR payload
	Status    string          `json:"status"`       // unpaid, pending, paid, closed
	ExpiresAt time.Time       `json:"expires_at,omitempty"`
	PaidAt    time.Time       `json:"paid_at,omitempty"`
}

// DownloadRequest exchanges a CSR made on the UKEY and the one-time code
// for the certificate.
type DownloadRequest struct {
	CSR  []byte `json:"csr"` // DER
	Code string `json:"code"`
	// TokenSerial is the UKEY the key is on: it binds a UKEY the CA
	// initialised to this account (for unlocking its PIN later).
	TokenSerial string `json:"token_serial,omitempty"`
}

// CertificateBundle is the issued certificate and its chain, DER, leaf first.
type CertificateBundle struct {
	Certificate []byte    `json:"certificate"`
	Chain       [][]byte  `json:"chain"`
	Serial      string    `json:"serial"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
}

// RenewRequest renews (更新, with a UKEY login) or replaces (补办, after a
// loss) an issued certificate; both need the security answer.
type RenewRequest struct {
	SecurityAnswer string `json:"security_answer"`
}

// RevokeRequest is a staff revocation, with an RFC 5280 reason code
// (1 key compromise, 4 superseded, 5 cessation of operation).
type RevokeRequest struct {
	Reason int    `json:"reason"`
	Note   string `json:"note,omitempty"`
}

// ReviewRequest is a staff decision.
type ReviewRequest struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"` // to reject: this, or materials, or both
	// Materials returned with a reason each (a rejection only).
	Materials []MaterialReturn `json:"materials,omitempty"`
}
