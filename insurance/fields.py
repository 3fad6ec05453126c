"""The field tables of the XML 130 format (QĐ 130/QĐ-BYT as amended by QĐ 4750/QĐ-BYT
and QĐ 3176/QĐ-BYT), as published: element name, type, size, required.

Types: ``S`` text (max length), ``N`` integer (max digits), ``D`` decimal
(total digits, fraction digits), ``T12`` time ``yyyyMMddHHmm``, ``T8`` date
``yyyyMMdd``. ``codes`` closes a field to its published code list. The XSDs
in ``xsd/`` are generated from these tables (``python -m insurance.xsdgen``)
and a test keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    size: int = 0
    scale: int = 0
    required: bool = False
    label_vi: str = ""
    codes: tuple[str, ...] = ()
    """The allowed values (a closed code list of the format); empty when open."""


def S(name: str, size: int, required: bool = False, label: str = "") -> Field:
    return Field(name, "S", size, 0, required, label)


def N(name: str, size: int, required: bool = False, label: str = "",
      codes: tuple[str, ...] = ()) -> Field:
    return Field(name, "N", size, 0, required, label, codes)


def _upto(n: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(1, n + 1))


# Closed code lists of QĐ 130/QĐ-BYT (as amended by QĐ 4750/QĐ-BYT).
SEX = _upto(3)
"""GIOI_TINH: 1 nam, 2 nữ, 3 chưa xác định."""
TREATMENT_RESULT = _upto(7)
"""KET_QUA_DTRI: 1 khỏi, 2 đỡ, 3 không thay đổi, 4 nặng hơn, 5 tử vong, 6 tiên lượng nặng
xin về, 7 chưa xác định."""
DISCHARGE_TYPE = _upto(5)
"""MA_LOAI_RV: 1 ra viện, 2 chuyển tuyến theo yêu cầu chuyên môn, 3 trốn viện, 4 xin ra
viện, 5 chuyển tuyến theo yêu cầu người bệnh."""
COST_GROUP = _upto(18)
"""MA_NHOM: the 18 cost groups (1 xét nghiệm, 2 CĐHA, ..., 4 thuốc trong danh mục, ...)."""
GROUP_BY_CATEGORY = {"lab": 1, "imaging": 2, "drug": 4, "service": 8, "supply": 10, "exam": 13,
                     "bed": 15}
"""MA_NHOM of an EMR ``ChargeItem.category``."""
SCOPE = _upto(3)
"""PHAM_VI: 1 trong phạm vi hưởng BHYT, 2 ngoài phạm vi, 3 ngoài phạm vi (khác)."""


def D(name: str, size: int = 15, scale: int = 2, required: bool = False, label: str = "") -> Field:
    return Field(name, "D", size, scale, required, label)


def T12(name: str, required: bool = False, label: str = "") -> Field:
    return Field(name, "T12", 12, 0, required, label)


def T8(name: str, required: bool = False, label: str = "") -> Field:
    return Field(name, "T8", 8, 0, required, label)


XML1 = (
    S("MA_LK", 100, True, "Mã liên kết"), N("STT", 10, True, "Số thứ tự"),
    S("MA_BN", 100, True, "Mã người bệnh"), S("HO_TEN", 255, True, "Họ và tên"),
    S("SO_CCCD", 15, False, "Số căn cước công dân / định danh cá nhân"),
    T12("NGAY_SINH", True, "Ngày sinh"), N("GIOI_TINH", 1, True, "Giới tính", SEX),
    S("NHOM_MAU", 5), S("MA_QUOCTICH", 3, True, "Mã quốc tịch"),
    S("MA_DANTOC", 2, True, "Mã dân tộc"), S("MA_NGHE_NGHIEP", 5, True, "Mã nghề nghiệp"),
    S("DIA_CHI", 1024, True, "Địa chỉ"), S("MATINH_CU_TRU", 3, True, "Mã tỉnh cư trú"),
    S("MAHUYEN_CU_TRU", 3, False, "Mã huyện cư trú (bỏ từ 01/7/2025)"),
    S("MAXA_CU_TRU", 5, True, "Mã xã cư trú"), S("DIEN_THOAI", 15),
    S("MA_THE_BHYT", 255, False, "Mã thẻ BHYT"), S("MA_DKBD", 255, False, "Mã nơi ĐKBĐ"),
    S("GT_THE_TU", 255, False, "Giá trị thẻ từ"), S("GT_THE_DEN", 255, False, "Giá trị thẻ đến"),
    T8("NGAY_MIEN_CCT"), S("LY_DO_VV", 1024, False, "Lý do vào viện"), S("LY_DO_VNT", 1024),
    S("MA_LY_DO_VNT", 5), S("CHAN_DOAN_VAO", 1024, True, "Chẩn đoán vào viện"),
    S("CHAN_DOAN_RV", 2048, True, "Chẩn đoán ra viện"),
    S("MA_BENH_CHINH", 7, True, "Mã bệnh chính (ICD-10)"), S("MA_BENH_KT", 100),
    S("MA_BENH_YHCT", 255), S("MA_PTTT_QT", 125), S("MA_DOITUONG_KCB", 4, True, "Mã đối tượng KCB"),
    S("MA_NOI_DI", 5), S("MA_NOI_DEN", 5), N("MA_TAI_NAN", 1),
    T12("NGAY_VAO", True, "Ngày giờ vào"), T12("NGAY_VAO_NOI_TRU"), T12("NGAY_RA", True, "Ngày giờ ra"),
    S("GIAY_CHUYEN_TUYEN", 50), N("SO_NGAY_DTRI", 3, True, "Số ngày điều trị"),
    S("PP_DIEU_TRI", 4000), N("KET_QUA_DTRI", 1, True, "Kết quả điều trị", TREATMENT_RESULT),
    N("MA_LOAI_RV", 1, True, "Mã loại ra viện", DISCHARGE_TYPE), S("GHI_CHU", 4000), T12("NGAY_TTOAN"),
    D("T_THUOC", required=True), D("T_VTYT", required=True), D("T_TONGCHI_BV", required=True),
    D("T_TONGCHI_BH", required=True), D("T_BNTT", required=True), D("T_BNCCT", required=True),
    D("T_BHTT", required=True), D("T_NGUONKHAC", required=True), D("T_BHTT_GDV", required=True),
    N("NAM_QT", 4, True, "Năm quyết toán"), N("THANG_QT", 2, True, "Tháng quyết toán"),
    S("MA_LOAI_KCB", 2, True, "Mã loại KCB"), S("MA_KHOA", 50, True, "Mã khoa"),
    S("MA_CSKCB", 5, True, "Mã cơ sở KCB"), S("MA_KHUVUC", 2), S("CAN_NANG", 6),
    S("CAN_NANG_CON", 100), S("NAM_NAM_LIEN_TUC", 8), S("NGAY_TAI_KHAM", 50),
    S("MA_HSBA", 100), S("MA_TTDV", 10), S("DU_PHONG", 4000),
)

XML2 = (
    S("MA_LK", 100, True), N("STT", 10, True), S("MA_THUOC", 255, True, "Mã thuốc"),
    S("MA_PP_CHEBIEN", 255), S("MA_CSKCB_THUOC", 10), N("MA_NHOM", 2, True, "Mã nhóm", COST_GROUP),
    S("TEN_THUOC", 1024, True, "Tên thuốc"), S("DON_VI_TINH", 50, True, "Đơn vị tính"),
    S("HAM_LUONG", 1024), S("DUONG_DUNG", 4), S("DANG_BAO_CHE", 1024), S("LIEU_DUNG", 1024),
    S("CACH_DUNG", 1024), S("SO_DANG_KY", 255), S("TT_THAU", 50), N("PHAM_VI", 1, True, "Phạm vi", SCOPE),
    N("TYLE_TT_BH", 3, True), D("SO_LUONG", 10, 3, True, "Số lượng"), D("DON_GIA", 15, 3, True, "Đơn giá"),
    D("THANH_TIEN_BV", required=True), D("THANH_TIEN_BH", required=True),
    D("T_NGUONKHAC_NSNN"), D("T_NGUONKHAC_VTNN"), D("T_NGUONKHAC_VTTN"), D("T_NGUONKHAC_CL"),
    D("T_NGUONKHAC", required=True), N("MUC_HUONG", 3, True), D("T_BNTT", required=True),
    D("T_BNCCT", required=True), D("T_BHTT", required=True), S("MA_KHOA", 50, True),
    S("MA_BAC_SI", 255, True, "Mã bác sĩ"), S("MA_DICH_VU", 255), T12("NGAY_YL", True, "Ngày y lệnh"),
    T12("NGAY_TH_YL"), N("MA_PTTT", 1, True), N("NGUON_CTRA", 1), N("VET_THUONG_TP", 1),
    S("DU_PHONG", 4000),
)

XML3 = (
    S("MA_LK", 100, True), N("STT", 10, True), S("MA_DICH_VU", 255), S("MA_PTTT_QT", 255),
    S("MA_VAT_TU", 255), N("MA_NHOM", 2, True, "Mã nhóm", COST_GROUP), S("GOI_VTYT", 3), S("TEN_VAT_TU", 1024),
    S("TEN_DICH_VU", 1024), S("MA_XANG_DAU", 20), S("DON_VI_TINH", 50, True), N("PHAM_VI", 1, True, "Phạm vi", SCOPE),
    D("SO_LUONG", 10, 3, True), D("DON_GIA_BV", 15, 3, True), D("DON_GIA_BH", 15, 3, True),
    S("TT_THAU", 25), N("TYLE_TT_DV", 3, True), N("TYLE_TT_BH", 3, True),
    D("THANH_TIEN_BV", required=True), D("THANH_TIEN_BH", required=True), D("T_TRANTT"),
    N("MUC_HUONG", 3, True), D("T_NGUONKHAC_NSNN"), D("T_NGUONKHAC_VTNN"), D("T_NGUONKHAC_VTTN"),
    D("T_NGUONKHAC_CL"), D("T_NGUONKHAC", required=True), D("T_BNTT", required=True),
    D("T_BNCCT", required=True), D("T_BHTT", required=True), S("MA_KHOA", 50, True),
    S("MA_GIUONG", 50), S("MA_BAC_SI", 255, True), S("NGUOI_THUC_HIEN", 255), S("MA_BENH", 100),
    S("MA_BENH_YHCT", 255), T12("NGAY_YL", True), T12("NGAY_TH_YL"), T12("NGAY_KQ"),
    N("MA_PTTT", 1, True), N("VET_THUONG_TP", 1), S("PP_VO_CAM", 3), S("VI_TRI_TH_DVKT", 3),
    S("MA_MAY", 1024), S("MA_HIEU_SP", 255), N("TAI_SU_DUNG", 1), S("DU_PHONG", 4000),
)

XML4 = (
    S("MA_LK", 100, True), N("STT", 10, True), S("MA_DICH_VU", 255, True),
    S("MA_CHI_SO", 255, True, "Mã chỉ số"), S("TEN_CHI_SO", 1024, True, "Tên chỉ số"),
    S("GIA_TRI", 1024, True, "Giá trị"), S("DON_VI_DO", 50), S("MO_TA", 4000), S("KET_LUAN", 4000),
    T12("NGAY_KQ", True, "Ngày kết quả"), S("MA_BS_DOC_KQ", 255, True, "Mã bác sĩ đọc kết quả"),
    S("DU_PHONG", 4000),
)

XML5 = (
    S("MA_LK", 100, True), N("STT", 10, True), S("DIEN_BIEN_LS", 4000, True, "Diễn biến lâm sàng"),
    S("GIAI_DOAN_BENH", 4000), S("HOI_CHAN", 4000), S("PHAU_THUAT", 4000),
    T12("THOI_DIEM_DBLS", True, "Thời điểm diễn biến"), S("NGUOI_THUC_HIEN", 255, True),
    S("DU_PHONG", 4000),
)

# table code -> (root element, list element, row element, fields). XML1 has one row, no list.
TABLES: dict[str, tuple[str, str | None, str, tuple[Field, ...]]] = {
    "XML1": ("TONG_HOP", None, "TONG_HOP", XML1),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC", XML2),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT", XML3),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS", XML4),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH",
             "CHI_TIET_DIEN_BIEN_BENH", XML5),
}

FIELD_LABELS: dict[str, str] = {
    f.name: f.label_vi for fields in (XML1, XML2, XML3, XML4, XML5) for f in fields if f.label_vi
}
