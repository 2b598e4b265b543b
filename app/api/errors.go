// Package api is the wire contract between CertDesk and its enrollment
// server: JSON over HTTPS under /api/v1, the request and response types,
// and one error shape. Client and server share this package and app/apply,
// nothing else.
package api

import (
	"errors"
	"fmt"
	"net/http"

	"certdesk/app/apply"
)

// Prefix is the root of every endpoint.
const Prefix = "/api/v1"

// Code is a stable error code. Clients branch on it, never on messages.
type Code string

const (
	CodeBadRequest        Code = "bad_request"
	CodeValidation        Code = "validation_failed"  // see Fields
	CodeUnauthenticated   Code = "unauthenticated"    // no, expired or revoked session
	CodeBadCredentials    Code = "bad_credentials"    // login failed (never says which part)
	CodeForbidden         Code = "forbidden"          // authenticated, but not yours or not your role
	CodeNotFound          Code = "not_found"          // also for another applicant's data
	CodeConflict          Code = "conflict"           // e.g. the account exists
	CodeUsernameTaken     Code = "username_taken"     // 一个用户名对应一个证书
	CodeStateNotAllowed   Code = "state_not_allowed"  // the application's state forbids the step
	CodeAgreementRequired Code = "agreement_required" // the service agreement is not accepted
	CodeMaterialInvalid   Code = "material_invalid"   // the server's inspection refused the file
	CodeTooLarge          Code = "too_large"          // body over the cap, refused unread
	CodeUploadOffset      Code = "upload_offset"      // resumable upload out of step: HEAD and resume
	CodeIdempotency       Code = "idempotency_conflict"
	CodeRateLimited       Code = "rate_limited" // see RetryAfter
	CodeCodeInvalid       Code = "download_code_invalid"
	CodeCodeLocked        Code = "download_code_locked"
	CodeUnavailable       Code = "unavailable"
	CodeInternal          Code = "internal"
)

// HTTPStatus is the status a server answers with for the code.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeValidation, CodeMaterialInvalid:
		return http.StatusUnprocessableEntity
	case CodeUnauthenticated, CodeBadCredentials:
		return http.StatusUnauthorized
	case CodeForbidden, CodeCodeLocked:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeUsernameTaken, CodeStateNotAllowed, CodeUploadOffset, CodeIdempotency:
		return http.StatusConflict
	case CodeAgreementRequired, CodeCodeInvalid:
		return http.StatusPreconditionFailed
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// FieldError is one form field's problem on the wire.
type FieldError struct {
	Field     string `json:"field"`
	Code      string `json:"code"`
	MessageZH string `json:"message_zh"`
	MessageEN string `json:"message_en"`
}

// Error is the one error body every endpoint returns:
// {code, message_zh, message_en, fields:[{field, code, message_zh, message_en}]}.
type Error struct {
	Code      Code         `json:"code"`
	MessageZH string       `json:"message_zh"`
	MessageEN string       `json:"message_en"`
	Fields    []FieldError `json:"fields,omitempty"`
	// RetryAfter, in seconds, for rate_limited (also in the Retry-After header).
	RetryAfter int `json:"retry_after,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%d field errors, first %s: %s)", e.Code, e.MessageEN, len(e.Fields), e.Fields[0].Field, e.Fields[0].Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.MessageEN)
}

// Message returns the message in lang.
func (e *Error) Message(l apply.Lang) string {
	return apply.Text{ZH: e.MessageZH, EN: e.MessageEN}.In(l)
}

// Is lets errors.Is(err, &api.Error{Code: c}) match on the code alone.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// NewError builds an error with the default wording of its code.
func NewError(c Code) *Error {
	t, ok := defaultMessages[c]
	if !ok {
		t = defaultMessages[CodeInternal]
	}
	return &Error{Code: c, MessageZH: t.ZH, MessageEN: t.EN}
}

// WithMessage replaces the wording.
func (e *Error) WithMessage(t apply.Text) *Error {
	e.MessageZH, e.MessageEN = t.ZH, t.EN
	return e
}

// ValidationError carries a form's field errors.
func ValidationError(fes apply.FieldErrors) *Error {
	e := NewError(CodeValidation)
	for _, fe := range fes {
		e.Fields = append(e.Fields, FieldError{Field: fe.Field, Code: string(fe.Code), MessageZH: fe.Message.ZH, MessageEN: fe.Message.EN})
	}
	return e
}

// StateError words a refused state-machine step.
func StateError(err error) *Error {
	e := NewError(CodeStateNotAllowed)
	var se *apply.StepError
	if errors.As(err, &se) {
		return e.WithMessage(se.Message())
	}
	return e
}

var defaultMessages = map[Code]apply.Text{
	CodeBadRequest:        {ZH: "请求格式不正确", EN: "The request is malformed"},
	CodeValidation:        {ZH: "有填写错误,请按各项旁的提示修改", EN: "Some fields need correcting; see the note beside each"},
	CodeUnauthenticated:   {ZH: "登录已过期,请重新登录", EN: "Your session has expired; please log in again"},
	CodeBadCredentials:    {ZH: "账号或密码不正确", EN: "The login name or password is incorrect"},
	CodeForbidden:         {ZH: "您无权执行此操作", EN: "You are not allowed to do this"},
	CodeNotFound:          {ZH: "找不到该记录", EN: "Not found"},
	CodeConflict:          {ZH: "该记录已存在", EN: "It already exists"},
	CodeUsernameTaken:     {ZH: "该证书用户名已被使用,一个用户名只能对应一个证书,请换一个", EN: "This certificate username is taken: one username per certificate; choose another"},
	CodeStateNotAllowed:   {ZH: "申请当前状态不允许此操作", EN: "The application's state does not allow this"},
	CodeAgreementRequired: {ZH: "请先阅读并同意电子认证服务协议", EN: "Read and accept the certification service agreement first"},
	CodeMaterialInvalid:   {ZH: "材料不符合要求,请按提示修改后重新上传", EN: "The material does not meet the rules; fix it as described and upload it again"},
	CodeTooLarge:          {ZH: "文件太大", EN: "The file is too large"},
	CodeUploadOffset:      {ZH: "上传进度不一致,将从服务器记录的位置继续", EN: "The upload is out of step; it will resume from the server's offset"},
	CodeIdempotency:       {ZH: "同一请求编号用于了不同的内容", EN: "The idempotency key was reused for a different request"},
	CodeRateLimited:       {ZH: "尝试次数过多,请稍后再试", EN: "Too many attempts; please try again later"},
	CodeCodeInvalid:       {ZH: "下载验证码不正确或已过期", EN: "The download code is wrong or has expired"},
	CodeCodeLocked:        {ZH: "下载验证码输错次数过多已锁定,请联系客服重新发送", EN: "The download code is locked after too many wrong tries; ask support to send a new one"},
	CodeUnavailable:       {ZH: "服务暂时不可用,请稍后再试", EN: "The service is temporarily unavailable; please try again later"},
	CodeInternal:          {ZH: "服务器内部错误,请稍后再试或联系客服", EN: "Internal server error; try again later or contact support"},
}
