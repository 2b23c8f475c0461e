//! The pages' words in Korean and English. The language is `?lang=` for that page, else the
//! browser's Accept-Language, else Korean (the memorial halls the booth serves). No choice is
//! kept in a cookie: one tap on "English" must not override the phone's language for a year.

use axum::http::HeaderMap;

pub use keepsake_protocol::Language;

/// The page's language: `?lang=`, else the browser's first language we have, else Korean.
pub fn pick(query: Option<&str>, headers: &HeaderMap) -> Language {
    if let Some(l) = query.and_then(Language::from_tag) {
        return l;
    }
    let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').find_map(|part| Language::from_tag(part.split(';').next().unwrap_or(""))).unwrap_or(Language::Ko)
}

/// The pages' words in `lang`.
pub fn words(lang: Language) -> &'static Words {
    lang.choose(&KO, &EN)
}

pub struct Words {
    pub home_title: &'static str,
    pub home_text: &'static str,
    pub gallery: &'static str,
    pub slideshow: &'static str,
    pub admin: &'static str,
    pub no_keepsakes: &'static str,
    pub keepsakes_count: &'static str,
    pub download: &'static str,
    pub download_photo: &'static str,
    pub download_all: &'static str,
    pub back: &'static str,
    pub login_title: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub wrong_password: &'static str,
    pub ask_family: &'static str,
    pub hide: &'static str,
    pub show: &'static str,
    pub delete: &'static str,
    pub confirm_delete: &'static str,
    /// Under the question on the delete confirmation page.
    pub cannot_undo: &'static str,
    pub cancel: &'static str,
    /// A form sent from a page opened before the session changed.
    pub stale_form_title: &'static str,
    /// Any other refusal of a page.
    pub cannot_do_title: &'static str,
    pub cannot_do_text: &'static str,
    pub stale_form_text: &'static str,
    pub photo_included: &'static str,
    pub in_booth_slideshow: &'static str,
    /// Before the visit's day on the share page.
    pub visited_on: &'static str,
    pub hidden: &'static str,
    pub not_yet_title: &'static str,
    pub not_yet_text: &'static str,
    pub not_found: &'static str,
    pub your_keepsake: &'static str,
    pub next: &'static str,
    pub previous: &'static str,
    pub original_photo: &'static str,
}

pub static KO: Words = Words {
    home_title: "추모 기록 서버",
    home_text: "이곳은 추모관 포토부스의 사진을 보관하는 서버입니다. 가족분들은 받으신 초대 링크로 들어오세요.",
    gallery: "모든 사진",
    slideshow: "슬라이드쇼",
    admin: "관리",
    no_keepsakes: "아직 사진이 없습니다.",
    keepsakes_count: "장의 사진",
    download: "내려받기",
    download_photo: "원본 사진 내려받기",
    download_all: "전체 내려받기 (ZIP)",
    back: "돌아가기",
    login_title: "가족 전용 페이지",
    password: "비밀번호",
    sign_in: "들어가기",
    sign_out: "나가기",
    wrong_password: "비밀번호가 맞지 않습니다.",
    ask_family: "가족분께 초대 링크나 비밀번호를 받아 주세요.",
    hide: "숨기기",
    show: "보이기",
    delete: "삭제",
    confirm_delete: "이 사진을 삭제할까요?",
    cannot_undo: "삭제한 사진은 되살릴 수 없습니다. 방문객의 QR 코드로도 더는 볼 수 없습니다.",
    cancel: "취소",
    stale_form_title: "화면이 오래되었습니다",
    cannot_do_title: "요청을 처리하지 못했습니다",
    cannot_do_text: "뒤로 가서 다시 해 주세요.",
    stale_form_text: "뒤로 가서 페이지를 새로 고친 뒤 다시 해 주세요.",
    photo_included: "원본 사진 포함",
    in_booth_slideshow: "부스 슬라이드쇼 동의",
    visited_on: "방문한 날",
    hidden: "숨김",
    not_yet_title: "사진이 아직 도착하지 않았습니다",
    not_yet_text: "포토부스가 인터넷에 연결되면 곧 올라옵니다. 잠시 후 QR 코드를 다시 찍어 주세요.",
    not_found: "찾는 페이지가 없습니다.",
    your_keepsake: "오늘의 기억",
    next: "다음",
    previous: "이전",
    original_photo: "원본 사진",
};

pub static EN: Words = Words {
    home_title: "Memorial keepsake server",
    home_text:
        "This server keeps the pictures from a memorial hall's photo booth. Family members: please use the invitation link you received.",
    gallery: "All pictures",
    slideshow: "Slideshow",
    admin: "Manage",
    no_keepsakes: "No pictures yet.",
    keepsakes_count: "pictures",
    download: "Download",
    download_photo: "Download the original photo",
    download_all: "Download all (ZIP)",
    back: "Back",
    login_title: "For the family",
    password: "Password",
    sign_in: "Enter",
    sign_out: "Sign out",
    wrong_password: "That password is not right.",
    ask_family: "Please ask the family for the invitation link or the password.",
    hide: "Hide",
    show: "Show",
    delete: "Delete",
    confirm_delete: "Delete this picture?",
    cannot_undo: "A deleted picture cannot be brought back, and the visitor's QR code will no longer show it.",
    cancel: "Cancel",
    stale_form_title: "This page is out of date",
    cannot_do_title: "This could not be done",
    cannot_do_text: "Please go back and try again.",
    stale_form_text: "Please go back, reload the page and try again.",
    photo_included: "original photo included",
    in_booth_slideshow: "agreed to the booth's slideshow",
    visited_on: "Visited on",
    hidden: "hidden",
    not_yet_title: "Your picture has not arrived yet",
    not_yet_text: "The booth will send it as soon as it is online. Please scan the QR code again a little later.",
    not_found: "There is no such page.",
    your_keepsake: "A keepsake from today",
    next: "Next",
    previous: "Previous",
    original_photo: "Original photo",
};
