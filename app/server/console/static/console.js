// CertDesk review console: zoom, rotate and fit a scan; set the printed
// acceptance form beside a scan to compare signature pages. Everything
// else works without this file (plain forms and links).
"use strict";
(function () {
  function view(fig) {
    var img = fig.querySelector(".frame img");
    if (!img.dataset.zoom) { img.dataset.zoom = "1"; img.dataset.rot = "0"; }
    return img;
  }
  function apply(img) {
    var z = parseFloat(img.dataset.zoom), r = parseInt(img.dataset.rot, 10);
    img.style.width = (z * 100) + "%";
    img.style.maxWidth = "none";
    img.style.transform = r ? "rotate(" + r + "deg)" : "";
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-act], button[data-page]");
    if (!b) return;
    var fig = b.closest("figure");
    var img = view(fig);
    if (b.dataset.page) {
      img.src = img.dataset.base + b.dataset.page;
      return;
    }
    var z = parseFloat(img.dataset.zoom);
    switch (b.dataset.act) {
      case "in": img.dataset.zoom = String(Math.min(z * 1.5, 8)); break;
      case "out": img.dataset.zoom = String(Math.max(z / 1.5, 0.25)); break;
      case "fit": img.dataset.zoom = "1"; break;
      case "rotate": img.dataset.rot = String((parseInt(img.dataset.rot, 10) + 90) % 360); break;
      case "compare":
        var form = document.getElementById("acceptform");
        document.querySelectorAll("figure.pair").forEach(function (f) { f.classList.remove("pair"); });
        fig.after(form);
        fig.classList.add("pair");
        form.classList.add("pair");
        form.scrollIntoView({ block: "nearest" });
        return;
    }
    apply(img);
  });
})();
