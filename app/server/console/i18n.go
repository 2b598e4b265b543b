package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
)

// messages are the console's words, Chinese first. The applicant's window
// uses Fyne's translation files; the console is rendered by the server
// and keeps its own table, checked complete by a test.
var messages = map[string]apply.Text{
	"app.name":            {ZH: "证书助手 · 审核台", EN: "CertDesk · Review console"},
	"nav.queue":           {ZH: "待办队列", EN: "Queue"},
	"nav.finance":         {ZH: "财务", EN: "Finance"},
	"nav.certs":           {ZH: "证书查询", EN: "Certificates"},
	"nav.reasons":         {ZH: "退回原因", EN: "Reasons"},
	"nav.logout":          {ZH: "退出", EN: "Log out"},
	"nav.lang":            {ZH: "English", EN: "中文"},
	"login.title":         {ZH: "工作人员登录", EN: "Staff login"},
	"login.login":         {ZH: "账号(手机号或邮箱)", EN: "Login (mobile or e-mail)"},
	"login.password":      {ZH: "密码", EN: "Password"},
	"login.totp":          {ZH: "动态口令(6 位)", EN: "Authenticator code (6 digits)"},
	"login.totphelp":      {ZH: "打开手机上的身份验证器,输入“证书助手”当前显示的 6 位数字", EN: "Open the authenticator app on your phone and enter the 6 digits it shows for CertDesk"},
	"login.submit":        {ZH: "登录", EN: "Log in"},
	"login.bad":           {ZH: "账号、密码或动态口令不正确。动态口令每 30 秒变化一次,且每个只能使用一次", EN: "The login, password or authenticator code is wrong. The code changes every 30 seconds and works once"},
	"login.expired":       {ZH: "登录页面已过期,请重新输入", EN: "The login page expired; enter your details again"},
	"error.title":         {ZH: "无法完成", EN: "Not done"},
	"error.internal":      {ZH: "服务器内部错误,请稍后重试;如反复出现请联系系统管理员", EN: "Internal server error; try again later, and tell the administrator if it persists"},
	"error.back":          {ZH: "返回待办队列", EN: "Back to the queue"},
	"queue.title":         {ZH: "待办队列", EN: "Queue"},
	"queue.all":           {ZH: "全部", EN: "All"},
	"queue.kind":          {ZH: "证书类型", EN: "Kind"},
	"queue.state":         {ZH: "状态", EN: "State"},
	"queue.from":          {ZH: "起始日期", EN: "From"},
	"queue.to":            {ZH: "截止日期", EN: "To"},
	"queue.name":          {ZH: "名称/经办人", EN: "Name / handler"},
	"queue.code":          {ZH: "统一社会信用代码", EN: "Credit code"},
	"queue.filter":        {ZH: "筛选", EN: "Filter"},
	"queue.clear":         {ZH: "清除", EN: "Clear"},
	"queue.empty":         {ZH: "没有符合条件的待办申请", EN: "Nothing waits that matches"},
	"queue.subject":       {ZH: "申请主体", EN: "Applicant"},
	"queue.waiting":       {ZH: "等待自", EN: "Waiting since"},
	"queue.who":           {ZH: "处理人", EN: "Being handled by"},
	"queue.you":           {ZH: "您", EN: "you"},
	"queue.approvals":     {ZH: "已批准", EN: "Approvals"},
	"queue.open":          {ZH: "打开", EN: "Open"},
	"queue.transfer":      {ZH: "转账待确认", EN: "Transfer to confirm"},
	"queue.baddate":       {ZH: "日期格式应为 2026-12-03", EN: "Dates are written 2026-12-03"},
	"app.lockother":       {ZH: "%s 正在处理此申请(至 %s)。为免重复审核,请先选择其他申请", EN: "%s is handling this application (until %s). To avoid reviewing it twice, pick another one first"},
	"app.form":            {ZH: "申请信息", EN: "Application data"},
	"app.materials":       {ZH: "申请材料", EN: "Materials"},
	"app.sha":             {ZH: "SHA-256", EN: "SHA-256"},
	"app.nowarn":          {ZH: "格式检查通过,无警告", EN: "Format checks passed, no warnings"},
	"app.returned":        {ZH: "已退回", EN: "Returned"},
	"app.zoomin":          {ZH: "放大", EN: "Zoom in"},
	"app.zoomout":         {ZH: "缩小", EN: "Zoom out"},
	"app.rotate":          {ZH: "旋转", EN: "Rotate"},
	"app.fit":             {ZH: "适应宽度", EN: "Fit width"},
	"app.compare":         {ZH: "与受理表对照", EN: "Compare with the form"},
	"app.acceptform":      {ZH: "受理表(按申请数据打印)", EN: "Acceptance form (printed from the data)"},
	"app.page":            {ZH: "第 %d 页", EN: "Page %d"},
	"app.identity":        {ZH: "实名核验", EN: "Identity check"},
	"app.noidentity":      {ZH: "尚未核验", EN: "Not checked yet"},
	"app.verified":        {ZH: "已通过(办理记录中有核验通过)", EN: "Passed (recorded in the history)"},
	"app.attempts":        {ZH: "已尝试 %d / %d 次", EN: "%d of %d attempts"},
	"app.payment":         {ZH: "缴费", EN: "Payment"},
	"app.nopayment":       {ZH: "尚未缴费", EN: "Not paid yet"},
	"app.history":         {ZH: "办理记录", EN: "History"},
	"app.decision":        {ZH: "审核", EN: "Decision"},
	"app.approvals":       {ZH: "批准情况:%d / %d", EN: "Approvals: %d of %d"},
	"app.approvedby":      {ZH: "%s 于 %s 批准", EN: "approved by %s at %s"},
	"app.needother":       {ZH: "您已批准;还需另一位审核员批准", EN: "You have approved; another reviewer must approve too"},
	"app.note":            {ZH: "审核意见(可选)", EN: "Note (optional)"},
	"app.approve":         {ZH: "批准", EN: "Approve"},
	"app.reject":          {ZH: "退回修改", EN: "Return for correction"},
	"app.rejectreason":    {ZH: "退回原因(总体说明)", EN: "Reason (overall)"},
	"app.return":          {ZH: "退回此材料", EN: "Return this material"},
	"app.returnnote":      {ZH: "补充说明", EN: "Details"},
	"app.confirm":         {ZH: "确认到账", EN: "Confirm the transfer"},
	"app.bankref":         {ZH: "银行流水号", EN: "Bank reference"},
	"app.novoucher":       {ZH: "申请人尚未上传缴费凭证", EN: "The applicant has not uploaded a payment voucher yet"},
	"app.revoke":          {ZH: "吊销证书", EN: "Revoke the certificate"},
	"app.amount":          {ZH: "金额", EN: "Amount"},
	"app.method":          {ZH: "方式", EN: "Method"},
	"app.status":          {ZH: "状态", EN: "Status"},
	"app.refund":          {ZH: "需退款", EN: "Refund due"},
	"finance.title":       {ZH: "财务", EN: "Finance"},
	"finance.transfers":   {ZH: "待确认的转账", EN: "Transfers to confirm"},
	"finance.refunds":     {ZH: "需退款的款项(申请已取消)", EN: "Money to refund (application cancelled)"},
	"finance.none":        {ZH: "暂无", EN: "None"},
	"finance.record":      {ZH: "登记退款", EN: "Record the refund"},
	"finance.refunded":    {ZH: "已退款", EN: "Refunded"},
	"certs.title":         {ZH: "证书查询", EN: "Certificates"},
	"certs.q":             {ZH: "序列号、主体名称或申请编号", EN: "Serial, subject or application ID"},
	"certs.search":        {ZH: "查询", EN: "Search"},
	"certs.none":          {ZH: "没有找到证书", EN: "No certificate found"},
	"certs.serial":        {ZH: "序列号", EN: "Serial"},
	"certs.valid":         {ZH: "有效期至", EN: "Valid until"},
	"certs.status":        {ZH: "状态", EN: "Status"},
	"certs.good":          {ZH: "有效", EN: "Valid"},
	"certs.revoked":       {ZH: "已吊销(%s,原因 %d)", EN: "Revoked (%s, reason %d)"},
	"certs.reason":        {ZH: "吊销原因", EN: "Reason"},
	"certs.note":          {ZH: "说明", EN: "Note"},
	"nav.outbox":          {ZH: "未送达消息", EN: "Undelivered"},
	"outbox.title":        {ZH: "未送达的短信和邮件", EN: "Undelivered SMS and e-mail"},
	"outbox.none":         {ZH: "所有消息均已送达", EN: "Every message was delivered"},
	"outbox.channel":      {ZH: "渠道", EN: "Channel"},
	"outbox.recipient":    {ZH: "收件人", EN: "Recipient"},
	"outbox.subject":      {ZH: "类型", EN: "Kind"},
	"outbox.attempts":     {ZH: "尝试次数", EN: "Attempts"},
	"outbox.error":        {ZH: "最近一次失败原因", EN: "Last failure"},
	"outbox.next":         {ZH: "下次重试", EN: "Next attempt"},
	"reasons.title":       {ZH: "退回原因列表", EN: "Return reasons"},
	"reasons.code":        {ZH: "代码", EN: "Code"},
	"reasons.zh":          {ZH: "中文", EN: "Chinese"},
	"reasons.en":          {ZH: "英文", EN: "English"},
	"reasons.position":    {ZH: "排序", EN: "Order"},
	"reasons.retire":      {ZH: "停用", EN: "Retire"},
	"reasons.save":        {ZH: "保存", EN: "Save"},
	"done.approved":       {ZH: "已批准:下载码已发送给申请人", EN: "Approved: the download code went to the applicant"},
	"done.approved_first": {ZH: "已记录您的批准;需另一位审核员再批准", EN: "Your approval is recorded; another reviewer must approve too"},
	"done.rejected":       {ZH: "已退回:申请人会在材料旁看到原因", EN: "Returned: the applicant sees the reasons beside the materials"},
	"done.confirmed":      {ZH: "已确认到账", EN: "The transfer is confirmed"},
	"done.revoked":        {ZH: "证书已吊销,已列入证书吊销列表", EN: "The certificate is revoked and on the CRL"},
	"done.refunded":       {ZH: "已登记退款", EN: "The refund is recorded"},
	"done.saved":          {ZH: "已保存", EN: "Saved"},
}

// revocationReasons are the RFC 5280 codes staff may choose.
var revocationReasons = []struct {
	Code int
	Text apply.Text
}{
	{1, apply.Text{ZH: "1 密钥泄露 / UKEY 丢失", EN: "1 key compromise / UKEY lost"}},
	{3, apply.Text{ZH: "3 单位信息变更", EN: "3 affiliation changed"}},
	{4, apply.Text{ZH: "4 已被替代", EN: "4 superseded"}},
	{5, apply.Text{ZH: "5 停止使用", EN: "5 cessation of operation"}},
	{9, apply.Text{ZH: "9 撤销授权", EN: "9 privilege withdrawn"}},
	{0, apply.Text{ZH: "0 未指定", EN: "0 unspecified"}},
}

// statusText words payment and identity statuses.
var statusText = map[string]apply.Text{
	"unpaid": {ZH: "未支付", EN: "Unpaid"}, "pending": {ZH: "待支付/核验中", EN: "Pending"}, "paid": {ZH: "已到账", EN: "Paid"},
	"closed": {ZH: "已关闭", EN: "Closed"}, "passed": {ZH: "已通过", EN: "Passed"}, "failed": {ZH: "未通过", EN: "Failed"},
	"expired": {ZH: "已过期", EN: "Expired"},
}

func tr(l apply.Lang, key string, args ...any) string {
	t, ok := messages[key]
	if !ok {
		return key
	}
	s := t.In(l)
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s
}

var funcs = template.FuncMap{
	"tr":  tr,
	"txt": func(l apply.Lang, t apply.Text) string { return t.In(l) },
	"state": func(l apply.Lang, s apply.State) string {
		return s.Label(l)
	},
	"kind":  func(l apply.Lang, k apply.Kind) string { return k.Label(l) },
	"mat":   func(l apply.Lang, t apply.MaterialType) string { return t.Label(l) },
	"event": func(l apply.Lang, h apply.HistoryEntry) string { return h.Describe(l) },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(shanghai).Format("2006-01-02 15:04")
	},
	"day":  func(t time.Time) string { return t.In(shanghai).Format("2006-01-02") },
	"yuan": func(fen int64) string { return apply.FormatFen(fen) },
	"kb":   func(n int64) string { return fmt.Sprintf("%.0f KB", float64(n)/1024) },
	"value": func(l apply.Lang, f apply.Field, v apply.Values) string {
		raw := v[f.Key]
		switch f.Type {
		case apply.TypeBool:
			if v.Bool(f.Key) {
				return map[apply.Lang]string{apply.ZH: "是", apply.EN: "Yes"}[l]
			}
			return map[apply.Lang]string{apply.ZH: "否", apply.EN: "No"}[l]
		case apply.TypeChoice:
			for _, c := range f.Choices {
				if c.Value == raw {
					return c.Label.In(l)
				}
			}
		}
		return raw
	},
	"problems": func(l apply.Lang, ps []material.Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Message.In(l))
		}
		return out
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"has":      func(roles, r string) bool { return strings.Contains(","+roles+",", ","+r+",") },
	"revoking": func() any { return revocationReasons },
	"method": func(l apply.Lang, m string) string {
		switch api.PaymentMethod(m) {
		case api.PayBankTransfer:
			return map[apply.Lang]string{apply.ZH: "转账电汇", apply.EN: "Bank transfer"}[l]
		case api.PayOnline:
			return map[apply.Lang]string{apply.ZH: "支付宝", apply.EN: "Alipay"}[l]
		case api.PayWeChat:
			return map[apply.Lang]string{apply.ZH: "微信支付", apply.EN: "WeChat Pay"}[l]
		}
		return m
	},
	"isEN": func(l apply.Lang) bool { return l == apply.EN },
	"status": func(l apply.Lang, s string) string {
		if t, ok := statusText[s]; ok {
			return t.In(l)
		}
		return s
	},
	"add": func(a, b int) int { return a + b },
}
