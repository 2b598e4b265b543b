package apply

// MaterialType identifies one kind of uploaded material.
type MaterialType string

const (
	MatAcceptanceForm   MaterialType = "acceptance_form"   // 数字证书业务受理表
	MatOrgLicense       MaterialType = "org_license"       // 单位有效证件
	MatAuthorization    MaterialType = "authorization"     // (单位)授权委托书
	MatApplicantID      MaterialType = "applicant_id"      // 申请人有效证件
	MatHandlerID        MaterialType = "handler_id"        // 经办人有效证件
	MatSealImprint      MaterialType = "seal_imprint"      // 签章印模
	MatSignatureImprint MaterialType = "signature_imprint" // 签名印模
	MatSpare            MaterialType = "spare"             // 备用材料
	MatPaymentVoucher   MaterialType = "payment_voucher"   // 缴费凭证
)

// Limits every material shares (seed: jpg, 单张图片不要超过2M).
const (
	MaxMaterialBytes = 2 * 1024 * 1024
	DocumentDPI      = 100 // 扫描分辨率100DPI即可
	ImprintDPI       = 300 // 签章印模/签名印模扫描分辨率300DPI
	MaxSpares        = 3
)

// MaterialRule is what one material must be.
type MaterialRule struct {
	Type     MaterialType `json:"type"`
	Label    Text         `json:"label"`
	Steps    Text         `json:"steps"` // how to prepare it, as the seed says
	Required bool         `json:"required"`
	MinDPI   int          `json:"min_dpi"`
	MaxBytes int64        `json:"max_bytes"`
	// SameAs names a material whose image this one may reuse (handler and
	// applicant are the same person).
	SameAs MaterialType `json:"same_as,omitempty"`
}

func docRule(t MaterialType, label, steps Text) MaterialRule {
	return MaterialRule{Type: t, Label: label, Steps: steps, Required: true, MinDPI: DocumentDPI, MaxBytes: MaxMaterialBytes}
}

func imprintRule(t MaterialType, label, steps Text) MaterialRule {
	return MaterialRule{Type: t, Label: label, Steps: steps, Required: true, MinDPI: ImprintDPI, MaxBytes: MaxMaterialBytes}
}

var (
	ruleAcceptance = docRule(MatAcceptanceForm, Text{"数字证书业务受理表", "Certificate service acceptance form"},
		Text{"打印受理表 → 签字并盖章 → 扫描", "Print the acceptance form → sign and stamp it → scan it"})
	ruleOrgLicense = docRule(MatOrgLicense, Text{"单位有效证件", "Organisation document"},
		Text{"统一社会信用代码证、营业执照副本或事业单位法人证书等 → 复印 → 盖章 → 扫描", "Business licence (copy) or public institution certificate → copy → stamp → scan"})
	ruleAuthorization = docRule(MatAuthorization, Text{"授权委托书", "Letter of authorisation"},
		Text{"单位授权委托书 → 复印 → 盖章 → 扫描", "The organisation's letter of authorisation → copy → stamp → scan"})
	ruleApplicantID = docRule(MatApplicantID, Text{"申请人有效证件", "Applicant's ID document"},
		Text{"身份证等证件正反面复印到一张 A4 纸 → 盖章 → 扫描", "Copy both sides of the ID card onto one A4 sheet → stamp → scan"})
	ruleHandlerID = docRule(MatHandlerID, Text{"经办人有效证件", "Handler's ID document"},
		Text{"身份证等证件正反面复印到一张 A4 纸 → 盖章 → 扫描", "Copy both sides of the ID card onto one A4 sheet → stamp → scan"})
	ruleSeal = imprintRule(MatSealImprint, Text{"签章印模", "Seal imprint"},
		Text{"在印模收集表上盖章 → 以 300 DPI 扫描", "Stamp the seal on the imprint collection sheet → scan at 300 DPI"})
	ruleSignature = imprintRule(MatSignatureImprint, Text{"签名印模", "Signature imprint"},
		Text{"在印模收集表上签名 → 以 300 DPI 扫描", "Sign on the imprint collection sheet → scan at 300 DPI"})
	ruleVoucher = docRule(MatPaymentVoucher, Text{"缴费凭证", "Payment voucher"},
		Text{"银行转账或电汇回单 → 扫描或拍照", "The bank transfer receipt → scan or photograph it"})
)

// SpareRule is the rule of the optional 备用材料 slots: any document, up to
// MaxSpares of them.
func SpareRule() MaterialRule {
	r := docRule(MatSpare, Text{"备用材料", "Additional material"}, Text{"其他需要补充的材料(可不传)", "Anything else worth adding (optional)"})
	r.Required = false
	return r
}

// Materials returns the materials an application must upload, in the seed's
// order: imprints only for the services chosen, the handler's ID reusing the
// applicant's when they are one person, and spare slots last.
func Materials(k Kind, o Options, handlerIsApplicant bool) []MaterialRule {
	var rs []MaterialRule
	switch k {
	case KindOrg:
		rs = []MaterialRule{ruleAcceptance, ruleOrgLicense, ruleAuthorization, ruleHandlerID}
	case KindPersonal:
		h := ruleHandlerID
		if handlerIsApplicant {
			h.SameAs = MatApplicantID
		}
		rs = []MaterialRule{ruleAuthorization, ruleApplicantID, h, ruleAcceptance}
	default:
		return nil
	}
	if o.Seal {
		rs = append(rs, ruleSeal)
	}
	if o.Signature {
		rs = append(rs, ruleSignature)
	}
	return append(rs, SpareRule())
}

// RuleFor returns the rule of one material type of an application, or the
// voucher rule, which is not part of the checklist.
func RuleFor(k Kind, o Options, handlerIsApplicant bool, t MaterialType) (MaterialRule, bool) {
	if t == MatPaymentVoucher {
		return ruleVoucher, true
	}
	for _, r := range Materials(k, o, handlerIsApplicant) {
		if r.Type == t {
			return r, true
		}
	}
	return MaterialRule{}, false
}

// GenericRule is the rule support staff check a file against when no
// application is at hand: "doc" (any 100 DPI document) or "seal" (a 300 DPI
// imprint), or any material type.
func GenericRule(name string) (MaterialRule, bool) {
	switch name {
	case "doc", "":
		return docRule("doc", Text{"文档材料", "Document"}, Text{}), true
	case "seal":
		return imprintRule("seal", Text{"印模", "Imprint"}, Text{}), true
	}
	for _, r := range []MaterialRule{ruleAcceptance, ruleOrgLicense, ruleAuthorization, ruleApplicantID, ruleHandlerID, ruleSeal, ruleSignature, ruleVoucher, SpareRule()} {
		if string(r.Type) == name {
			return r, true
		}
	}
	return MaterialRule{}, false
}

// MissingMaterials lists the required materials not present, given the set
// of types present and valid. It is how the server decides that an
// application's materials are complete.
func MissingMaterials(rules []MaterialRule, present map[MaterialType]bool) []MaterialType {
	var missing []MaterialType
	for _, r := range rules {
		if !r.Required || present[r.Type] {
			continue
		}
		if r.SameAs != "" && present[r.SameAs] {
			continue
		}
		missing = append(missing, r.Type)
	}
	return missing
}

// PaperMaterial is a paper document to bring or post to the CA.
type PaperMaterial struct {
	Label  Text `json:"label"`
	Copies Text `json:"copies"`
}

// PaperMaterials lists the paper documents the CA needs, as the seed's
// 领取数字证书注意事项 and 邮寄资料 list them.
func PaperMaterials(k Kind, handlerIsApplicant bool) []PaperMaterial {
	ps := []PaperMaterial{
		{Text{"《数字证书业务受理表》", "Certificate service acceptance form"}, Text{"原件一份,签字并加盖单位公章", "One original, signed and stamped with the organisation's seal"}},
		{Text{"《电子认证服务协议》", "Electronic certification service agreement"}, Text{"原件一份,加盖单位公章(无需上传)", "One original, stamped (not uploaded)"}},
	}
	switch k {
	case KindOrg:
		ps = append(ps,
			PaperMaterial{Text{"营业执照(副本)或事业单位法人证书复印件", "Copy of the business licence or public institution certificate"}, Text{"两份,加盖单位公章", "Two copies, stamped"}},
			PaperMaterial{Text{"单位授权委托书", "Letter of authorisation"}, Text{"一份,加盖单位公章", "One, stamped"}},
		)
	case KindPersonal:
		ps = append(ps,
			PaperMaterial{Text{"申请人有效证件复印件(正反面印在一张 A4 纸上)", "Copy of the applicant's ID (both sides on one A4 sheet)"}, Text{"一份,加盖单位公章", "One, stamped"}},
		)
	}
	if !handlerIsApplicant {
		ps = append(ps, PaperMaterial{Text{"经办人有效证件复印件(正反面印在一张 A4 纸上)", "Copy of the handler's ID (both sides on one A4 sheet)"}, Text{"一份,加盖单位公章", "One, stamped"}})
	}
	ps = append(ps, PaperMaterial{Text{"经办人有效证件原件", "The handler's original ID document"}, Text{"到受理点时出示,用于身份查验", "Shown at the service point for identity checks"}})
	return ps
}

var materialNames = map[MaterialType]Text{
	MatAcceptanceForm:   {"数字证书业务受理表", "Acceptance form"},
	MatOrgLicense:       {"单位有效证件", "Organisation's licence"},
	MatAuthorization:    {"授权委托书", "Letter of authorisation"},
	MatApplicantID:      {"申请人有效证件", "Applicant's ID document"},
	MatHandlerID:        {"经办人有效证件", "Handler's ID document"},
	MatSealImprint:      {"签章印模", "Seal imprint"},
	MatSignatureImprint: {"签名印模", "Signature imprint"},
	MatSpare:            {"备用材料", "Additional material"},
	MatPaymentVoucher:   {"缴费凭证", "Payment voucher"},
}

// Label names the material for people (the reviewer's listing; the
// applicant's screens use each rule's own label).
func (t MaterialType) Label(lang Lang) string {
	if n, ok := materialNames[t]; ok {
		return n.In(lang)
	}
	return string(t)
}
