import './base.css';
import './views.css';
import './sidebar.css';
