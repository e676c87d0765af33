// Every visible string of the app, in English and Bahasa Indonesia.
// The English strings double as the accessible names the e2e tests look for: keep them exact.
const en = {
  app: 'kurir',
  username: 'Username', password: 'Password', displayName: 'Display name',
  signUp: 'Sign up', logIn: 'Log in', haveAccount: 'I have an account', createAccount: 'Create an account',
  signUpTitle: 'Create your kurir account', logInTitle: 'Log in to kurir',
  online: 'Online', offline: 'Offline', connecting: 'Connecting…', connection: 'Connection',
  settings: 'Settings', logOut: 'Log out', search: 'Search', searchResults: 'Search results',
  chats: 'Chats', noChats: 'No chats yet. Search for someone to start one.', noResults: 'Nothing found',
  unread: (n) => `${n} unread`, messages: 'Messages', message: 'Message', send: 'Send', attach: 'Attach',
  file: 'File', back: 'Back', emoji: 'Emoji', bold: 'Bold', italic: 'Italic', code: 'Code', link: 'Link',
  linkPrompt: 'Link address', reply: 'Reply', edit: 'Edit', del: 'Delete', react: 'React',
  deleteForMe: 'Delete for me', deleteForAll: 'Delete for everyone', cancel: 'Cancel', save: 'Save',
  replyingTo: 'Reply to', editing: 'Editing message', sent: 'Sent', read: 'Read', edited: 'edited',
  today: 'Today', yesterday: 'Yesterday', typing: (name) => `${name} is typing…`,
  peerOnline: 'online', lastSeen: (when) => `last seen ${when}`, lastSeenLongAgo: 'last seen a long time ago',
  members: (n) => `${n} members`, subscribers: (n) => `${n} subscribers`,
  photo: 'Photo', document: 'File', video: 'Video', audio: 'Audio', voice: 'Voice message', media: 'Media',
  uploading: (name) => `Uploading ${name}`, uploadFailed: 'Upload failed', dropHere: 'Drop files to send',
  loadingOlder: 'Loading older messages…', startOfChat: 'This is the beginning of the chat.',
  selectChat: 'Select a chat to start messaging', you: 'You', channel: 'channel', group: 'group', user: 'user',
  profile: 'Profile', bio: 'Bio', sessions: 'Sessions', terminate: 'Terminate', thisDevice: 'This device',
  language: 'Language', theme: 'Theme', themeSystem: 'System', themeLight: 'Light', themeDark: 'Dark',
  close: 'Close', saved: 'Saved', lastActive: (when) => `last active ${when}`, unknownDevice: 'Unknown device',
  joinChannel: 'Join', joined: 'Joined', error: 'Something went wrong', botKeyboard: 'Bot keyboard',
  messageActions: 'Message actions', reactions: 'Reactions', download: 'Download',
  loggedOutElsewhere: 'This session was ended. Please log in again.',
  newGroup: 'New group', newChannel: 'New channel', groupName: 'Group name', addPeople: 'Add people', create: 'Create',
  channelName: 'Channel name', publicLink: 'Public link', description: 'Description', optional: 'optional',
  chatInfo: 'Chat info', membersList: 'Members', makeAdmin: 'Make admin', removeAdmin: 'Remove admin', remove: 'Remove',
  addMember: 'Add member', add: 'Add', inviteLink: 'Invite link', copy: 'Copy', copied: 'Copied', leave: 'Leave',
  owner: 'owner', admin: 'admin', views: (n) => `${n} views`, comments: (n) => `${n} comments`, commentsTitle: 'Comments',
  forward: 'Forward', forwardTo: 'Forward to', forwardedFrom: (name) => `Forwarded from ${name}`, forwarded: 'Forwarded',
  commands: 'Commands', pin: 'Pin', unpin: 'Unpin', pinnedMessage: 'Pinned message', invitation: 'Invitation',
  readOnly: 'Only admins post here.', selected: (n) => `${n} selected`,
  adminRights: 'Admin rights', editRights: 'Edit rights', rightChangeInfo: 'Change info', rightPostMessages: 'Post messages',
  rightEditMessages: 'Edit messages', rightDeleteMessages: 'Delete messages', rightBanUsers: 'Ban users',
  rightInviteUsers: 'Invite users', rightPinMessages: 'Pin messages', rightAddAdmins: 'Add admins',
  errors: {
    USERNAME_INVALID: 'A username has 5–32 letters, digits or underscores and starts with a letter.',
    USERNAME_OCCUPIED: 'This username is taken.', PASSWORD_TOO_WEAK: 'This password is too weak.',
    PASSWORD_INVALID: 'Wrong username or password.', AUTH_KEY_INVALID: 'Wrong username or password.',
    MESSAGE_TOO_LONG: 'The message is too long.', CHAT_WRITE_FORBIDDEN: 'You cannot write here.',
    FLOOD_WAIT: 'Too many requests; wait a moment.', NETWORK: 'No connection to the server.',
    CHAT_ADMIN_REQUIRED: 'Only admins can do that.', CHAT_OWNER_REQUIRED: 'Only the owner can do that.',
    INVITE_HASH_INVALID: 'This invite link is not valid.', INVITE_HASH_EXPIRED: 'This invite link has expired.',
    RIGHT_FORBIDDEN: 'You may grant only rights you hold.',
    USER_ALREADY_PARTICIPANT: 'Already a member.', CHAT_TITLE_EMPTY: 'Give it a name.', CHAT_NOT_FOUND: 'Chat not found.',
  },
};

const id = {
  app: 'kurir',
  username: 'Nama pengguna', password: 'Kata sandi', displayName: 'Nama tampilan',
  signUp: 'Daftar', logIn: 'Masuk', haveAccount: 'Saya sudah punya akun', createAccount: 'Buat akun',
  signUpTitle: 'Buat akun kurir Anda', logInTitle: 'Masuk ke kurir',
  online: 'Daring', offline: 'Luring', connecting: 'Menghubungkan…', connection: 'Koneksi',
  settings: 'Pengaturan', logOut: 'Keluar', search: 'Cari', searchResults: 'Hasil pencarian',
  chats: 'Obrolan', noChats: 'Belum ada obrolan. Cari seseorang untuk memulai.', noResults: 'Tidak ditemukan',
  unread: (n) => `${n} belum dibaca`, messages: 'Pesan', message: 'Pesan', send: 'Kirim', attach: 'Lampirkan',
  file: 'Berkas', back: 'Kembali', emoji: 'Emoji', bold: 'Tebal', italic: 'Miring', code: 'Kode', link: 'Tautan',
  linkPrompt: 'Alamat tautan', reply: 'Balas', edit: 'Ubah', del: 'Hapus', react: 'Reaksi',
  deleteForMe: 'Hapus untuk saya', deleteForAll: 'Hapus untuk semua', cancel: 'Batal', save: 'Simpan',
  replyingTo: 'Balas ke', editing: 'Mengubah pesan', sent: 'Terkirim', read: 'Dibaca', edited: 'diubah',
  today: 'Hari ini', yesterday: 'Kemarin', typing: (name) => `${name} sedang mengetik…`,
  peerOnline: 'daring', lastSeen: (when) => `terakhir dilihat ${when}`, lastSeenLongAgo: 'terakhir dilihat lama sekali',
  members: (n) => `${n} anggota`, subscribers: (n) => `${n} pelanggan`,
  photo: 'Foto', document: 'Berkas', video: 'Video', audio: 'Audio', voice: 'Pesan suara', media: 'Media',
  uploading: (name) => `Mengunggah ${name}`, uploadFailed: 'Gagal mengunggah', dropHere: 'Lepaskan berkas untuk mengirim',
  loadingOlder: 'Memuat pesan lama…', startOfChat: 'Ini awal obrolan.',
  selectChat: 'Pilih obrolan untuk mulai berkirim pesan', you: 'Anda', channel: 'kanal', group: 'grup', user: 'pengguna',
  profile: 'Profil', bio: 'Bio', sessions: 'Sesi', terminate: 'Akhiri', thisDevice: 'Perangkat ini',
  language: 'Bahasa', theme: 'Tema', themeSystem: 'Sistem', themeLight: 'Terang', themeDark: 'Gelap',
  close: 'Tutup', saved: 'Tersimpan', lastActive: (when) => `terakhir aktif ${when}`, unknownDevice: 'Perangkat tak dikenal',
  joinChannel: 'Gabung', joined: 'Bergabung', error: 'Terjadi kesalahan', botKeyboard: 'Papan tombol bot',
  messageActions: 'Tindakan pesan', reactions: 'Reaksi', download: 'Unduh',
  loggedOutElsewhere: 'Sesi ini telah diakhiri. Silakan masuk lagi.',
  newGroup: 'Grup baru', newChannel: 'Kanal baru', groupName: 'Nama grup', addPeople: 'Tambah orang', create: 'Buat',
  channelName: 'Nama kanal', publicLink: 'Tautan publik', description: 'Deskripsi', optional: 'opsional',
  chatInfo: 'Info obrolan', membersList: 'Anggota', makeAdmin: 'Jadikan admin', removeAdmin: 'Cabut admin', remove: 'Keluarkan',
  addMember: 'Tambah anggota', add: 'Tambah', inviteLink: 'Tautan undangan', copy: 'Salin', copied: 'Disalin', leave: 'Tinggalkan',
  owner: 'pemilik', admin: 'admin', views: (n) => `${n} kali dilihat`, comments: (n) => `${n} komentar`, commentsTitle: 'Komentar',
  forward: 'Teruskan', forwardTo: 'Teruskan ke', forwardedFrom: (name) => `Diteruskan dari ${name}`, forwarded: 'Diteruskan',
  commands: 'Perintah', pin: 'Sematkan', unpin: 'Lepas sematan', pinnedMessage: 'Pesan tersemat', invitation: 'Undangan',
  readOnly: 'Hanya admin yang mengirim di sini.', selected: (n) => `${n} dipilih`,
  adminRights: 'Hak admin', editRights: 'Ubah hak', rightChangeInfo: 'Ubah info', rightPostMessages: 'Kirim pesan',
  rightEditMessages: 'Ubah pesan', rightDeleteMessages: 'Hapus pesan', rightBanUsers: 'Blokir pengguna',
  rightInviteUsers: 'Undang pengguna', rightPinMessages: 'Sematkan pesan', rightAddAdmins: 'Tambah admin',
  errors: {
    USERNAME_INVALID: 'Nama pengguna terdiri dari 5–32 huruf, angka, atau garis bawah dan diawali huruf.',
    USERNAME_OCCUPIED: 'Nama pengguna ini sudah dipakai.', PASSWORD_TOO_WEAK: 'Kata sandi ini terlalu lemah.',
    PASSWORD_INVALID: 'Nama pengguna atau kata sandi salah.', AUTH_KEY_INVALID: 'Nama pengguna atau kata sandi salah.',
    MESSAGE_TOO_LONG: 'Pesan terlalu panjang.', CHAT_WRITE_FORBIDDEN: 'Anda tidak dapat menulis di sini.',
    FLOOD_WAIT: 'Terlalu banyak permintaan; tunggu sebentar.', NETWORK: 'Tidak ada koneksi ke server.',
    CHAT_ADMIN_REQUIRED: 'Hanya admin yang dapat melakukannya.', CHAT_OWNER_REQUIRED: 'Hanya pemilik yang dapat melakukannya.',
    INVITE_HASH_INVALID: 'Tautan undangan ini tidak valid.', INVITE_HASH_EXPIRED: 'Tautan undangan ini sudah kedaluwarsa.',
    RIGHT_FORBIDDEN: 'Anda hanya dapat memberi hak yang Anda miliki.',
    USER_ALREADY_PARTICIPANT: 'Sudah menjadi anggota.', CHAT_TITLE_EMPTY: 'Beri nama terlebih dahulu.', CHAT_NOT_FOUND: 'Obrolan tidak ditemukan.',
  },
};

const DICTS = { en, id };
export const LANGUAGES = [['en', 'English'], ['id', 'Bahasa Indonesia']];
const KEY = 'kurir.lang';

function initial() {
  const chosen = localStorage.getItem(KEY);
  if (chosen && DICTS[chosen]) return chosen;
  return (navigator.language || 'en').toLowerCase().startsWith('id') ? 'id' : 'en';
}

let lang = initial();
document.documentElement.lang = lang;

export function getLang() { return lang; }

export function setLang(code) {
  if (!DICTS[code]) return;
  lang = code;
  localStorage.setItem(KEY, code);
  document.documentElement.lang = code;
}

/** t('key') or t('key', arg) for the strings that take one; falls back to English. */
export function t(key, arg) {
  const v = DICTS[lang][key] ?? en[key] ?? key;
  return typeof v === 'function' ? v(arg) : v;
}

/** The message for an API error type, or the server's own message. */
export function errorText(err) {
  const type = err && err.type;
  return DICTS[lang].errors[type] || en.errors[type] || (err && err.message) || t('error');
}

export function locale() { return lang === 'id' ? 'id-ID' : 'en-US'; }
